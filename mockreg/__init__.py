"""mockreg: an in-memory, spec-exact OCI registry for test suites.

The public names are imported on first use (PEP 562), not with the package: installing mockreg
loads its pytest plugin into every pytest session, and `import mockreg.pytest_plugin` imports
this package first, so a session that never uses mockreg must not pay for the registry.
`from mockreg import Registry` works as usual; type checkers see the imports below.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, List

if TYPE_CHECKING:
    from .errors import RegistryError
    from .extensions import Extension
    from .registry import Manifest, Registry
    from .settings import Settings

__all__ = ["Extension", "Manifest", "Registry", "RegistryError", "Settings"]
__version__ = "0.1.0"

_HOMES = {"Extension": ".extensions", "Manifest": ".registry", "Registry": ".registry",
          "RegistryError": ".errors", "Settings": ".settings"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value  # later lookups find it directly
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))
