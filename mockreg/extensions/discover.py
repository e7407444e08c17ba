"""`_oci/ext/discover` (distribution-spec extensions/_oci.md): which extensions answer here.

The body follows specs-go/v1/extensions `ExtensionList`: `extensions` always a list (`[]`, never
null); each entry has `name`, `url` and `endpoints`, and `description` only when there is one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List

from ..http import Request
from .model import REGISTRY, REPOSITORY, Extension

if TYPE_CHECKING:
    from ..registry import Registry

OCI_URL = "https://github.com/opencontainers/distribution-spec/blob/main/extensions/_oci.md"
OCI_DESCRIPTION = "OCI extensions: discover the extensions this registry serves"


def oci_extension() -> Extension:
    """The reserved `_oci` extension; it always serves discover, and is listed only when enabled."""
    oci = Extension("_oci", OCI_URL, OCI_DESCRIPTION)
    oci.listed = False
    oci.registry_endpoint("ext", "discover")(registry_level)
    oci.repository_endpoint("ext", "discover")(repository_level)
    return oci


def registry_level(request: Request, registry: Registry) -> Dict[str, Any]:
    return {"extensions": _entries(registry, REGISTRY, None)}


def repository_level(request: Request, registry: Registry, name: str) -> Dict[str, Any]:
    return {"extensions": _entries(registry, REPOSITORY, name)}


def _entries(registry: Registry, level: str, repository: Any) -> List[Dict[str, Any]]:
    return [ext.describe(level, repository) for ext in registry.extensions.listed(level, repository)]
