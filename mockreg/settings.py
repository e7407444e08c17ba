"""The optional behaviours a real registry may or may not have, as named switches."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any, Dict, List, Mapping


@dataclass
class Settings:
    """Per-registry switches. Defaults: every optional API on, as the reference registry ships.

    Each switch is named after the axis the OCI conformance suite tests, so a registry that
    lacks an API can be reproduced exactly (see docs/edge-cases.md).
    """

    blob_delete: bool = True
    manifest_delete: bool = True
    tag_delete: bool = True
    referrers: bool = True
    anonymous_mount: bool = True
    upload_cancel: bool = True
    single_post_upload: bool = True
    digest_headers: bool = True
    tag_query_params: bool = True
    sha512: bool = True
    sparse_manifests: bool = False
    chunk_min_length: int = 0
    manifest_size_limit: int = 4 * 1024 * 1024
    max_upload_size: int = 16 * 1024 ** 3
    referrers_page_size: int = 0
    upload_timeout: int = 0  # seconds an upload may sit idle on the registry clock; 0: forever
    max_upload_sessions: int = 1000  # uploads open at once; one more is 429 TOOMANYREQUESTS; 0: no limit
    catalog: bool = True
    extensions: bool = True
    # -- record/replay (issue 15): answers a recorded upstream gave that no switch above covers --
    blob_mount: bool = True  # False: a cross-repository mount always opens an upload (202), as some registries do
    # Hardening (issue 17): what one client or one tag can make the registry remember.
    rate_limit_windows: int = 10000  # windows (clients, users or repositories) kept per rate limit; 0: no bound
    tag_history_limit: int = 1000  # moves kept per tag, and deleted tags' histories per repository; 0: no bound
    manifest_content_type_check: bool = True  # a manifest PUT's Content-Type must be its mediaType (else 400)
    # Client checks (issue 13, docs/client-checks.md): upload Locations carry an opaque `_state`
    # query, as the reference registry's do, so a client that rebuilds the URL shows (OCI-C006).
    upload_location_state: bool = False

    @classmethod
    def names(cls) -> List[str]:
        return [f.name for f in fields(cls)]

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes` applied; unknown names or wrong types raise ValueError."""
        return dataclasses.replace(self, **coerce(changes))


def coerce(changes: Mapping[str, Any]) -> Dict[str, Any]:
    """Check names and types of settings given as Python values or as strings (CLI, env)."""
    known = {f.name: f for f in fields(Settings)}
    result: Dict[str, Any] = {}
    for name, value in changes.items():
        if name not in known:
            raise ValueError(f"unknown setting {name!r}; known: {', '.join(sorted(known))}")
        kind = type(getattr(Settings(), name))
        result[name] = _convert(name, value, kind)
    return result


def _convert(name: str, value: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"setting {name!r} takes true or false, not {value!r}")
    if kind is int:
        if isinstance(value, bool):
            raise ValueError(f"setting {name!r} takes a whole number, not {value!r}")
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: JSON's Infinity
            raise ValueError(f"setting {name!r} takes a whole number, not {value!r}") from None
        if number < 0:
            raise ValueError(f"setting {name!r} must not be negative, got {number}")
        return number
    return value
