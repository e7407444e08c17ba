"""Manifest switches real registries' quirks need (issue 12): `subject` or `artifactType`
refused, immutable tags. Run by the manifest PUT handler under the store lock, so the tag check
and the write are one step; each refusal has a `reason` error rules can re-answer."""

from __future__ import annotations

import fnmatch
import json
from typing import TYPE_CHECKING, Any

from .errors import RegistryError
from .manifests import ParsedManifest

if TYPE_CHECKING:
    from .registry import Registry


def check(registry: "Registry", name: str, parsed: ParsedManifest, body: bytes, tags: Any, digest: str) -> None:
    settings = registry.settings
    if parsed.subject is not None and not settings.manifest_subject:
        raise RegistryError("MANIFEST_INVALID", "manifests with a subject are not supported",
                            reason="subject-refused", message="manifest invalid: subject not supported")
    if not settings.manifest_artifact_type and _declares_artifact_type(body):
        raise RegistryError("MANIFEST_INVALID", "manifests with an artifactType are not supported",
                            reason="artifact-type-refused", message="manifest invalid: artifactType not supported")
    if settings.immutable_tags and tags:
        _check_immutable(registry, name, tags, digest, settings.immutable_tags)


def _declares_artifact_type(body: bytes) -> bool:
    # The parsed manifest derives an artifact type from the config for images; only the
    # document's own top-level field counts here.
    return b"artifactType" in body and "artifactType" in json.loads(body)


def _check_immutable(registry: "Registry", name: str, tags: Any, digest: str, patterns: str) -> None:
    globs = [glob.strip() for glob in patterns.split(",") if glob.strip()]
    repo = registry.store.repositories.get(name)
    if repo is None:
        return
    for tag in tags:
        current = repo.tags.get(tag)
        if current is not None and current != digest and any(fnmatch.fnmatchcase(tag, g) for g in globs):
            raise RegistryError("DENIED", {"tag": tag, "current": current}, status=409, reason="tag-immutable",
                                message=f"tag {tag} is immutable and already points to another manifest")
