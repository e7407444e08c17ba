"""mockreg: an in-memory, spec-exact OCI registry for test suites."""

from .errors import RegistryError
from .extensions import Extension
from .registry import Manifest, Registry
from .settings import Settings

__all__ = ["Extension", "Manifest", "Registry", "RegistryError", "Settings"]
__version__ = "0.1.0"
