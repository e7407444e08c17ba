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
    # -- issue 12: switches real registries' quirks need (docs/registry.md "Registry quirks");
    # each refusal carries a `reason` that error rules can re-answer.
    repository_must_exist: bool = False  # pushes to a repository not created first: 404 NAME_UNKNOWN
    namespace_must_exist: bool = False  # pushes need a created namespace (a leading part of the name)
    immutable_tags: str = ""  # comma-separated globs of tags that may not move once set ("*": all)
    immutable_tags_allow_same: bool = True  # false: even the same manifest again is refused
    manifest_subject: bool = True  # false: manifests with `subject` are refused
    manifest_artifact_type: bool = True  # false: manifests with a top-level `artifactType` are refused
    max_name_components: int = 0  # most "/"-separated components of a repository name; 0: no limit
    min_name_components: int = 0  # fewest components (e.g. 2 for project/image); 0: no minimum
    max_name_length: int = 0  # longest repository name; 0: no limit
    tags_page_size: int = 0  # `n` a tags list uses when the client gives none; 0: everything
    tags_page_max: int = 0  # the largest `n` a tags list answers; 0: no cap
    catalog_page_size: int = 0
    catalog_page_max: int = 0
    page_over_max: str = "clamp"  # n above the cap: "clamp" it, or "error" (400)
    link_header: str = "relative"  # pagination Link: "relative", "absolute" URL, or "none"
    link_extra_params: str = ""  # query text added to pagination Links, e.g. "orderby="
    tags_pagination: bool = True  # false: tags lists ignore n and last (every tag, no Link)
    tags_order: str = "lexical"  # "lexical", or "pushed": in the order tags were first made
    blob_mount: bool = True  # false: a mount request starts an ordinary upload (202)
    mount_namespace_depth: int = 0  # N: mounts only between names sharing their first N components
    chunked_uploads: bool = True  # false: PATCH on an upload session is refused
    chunk_max_length: int = 0  # largest PATCH chunk; 0: no limit
    chunk_min_rule: str = "none"  # chunks below chunk_min_length: "none", "every-patch", "all-but-last"
    oci_accept_negotiation: bool = False  # OCI manifests only to clients whose Accept names their type
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


# Settings whose value is one word from a fixed list.
CHOICES = {"page_over_max": ("clamp", "error"), "link_header": ("relative", "absolute", "none"),
           "tags_order": ("lexical", "pushed"), "chunk_min_rule": ("none", "every-patch", "all-but-last")}


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
    if kind is str:
        if name not in CHOICES and isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            value = ", ".join(value)  # a list of globs, as YAML writes it naturally
        if not isinstance(value, str):
            raise ValueError(f"setting {name!r} takes text, not {value!r}")
        choices = CHOICES.get(name)
        if choices is not None and value not in choices:
            raise ValueError(f"setting {name!r} takes one of {', '.join(choices)}, not {value!r}")
        return value
    return value
