"""mockreg: an in-memory, spec-exact OCI registry for test suites."""

from .errors import RegistryError
from .registry import Manifest, Registry
from .settings import Settings

__all__ = ["Manifest", "Registry", "RegistryError", "Settings"]
__version__ = "0.1.0"
