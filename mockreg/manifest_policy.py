"""Manifest switches real registries' quirks need (issue 12): `subject` or `artifactType`
refused, immutable tags (run by the manifest PUT handler under the store lock, so the tag check
and the write are one step), and OCI manifests withheld from clients that do not Accept them
(run by the policy layer). Each refusal has a `reason` error rules can re-answer."""

from __future__ import annotations

import fnmatch
import json
from typing import TYPE_CHECKING, Any, Optional

from .errors import RegistryError
from .http import Request, Response
from .manifests import OCI_INDEX, OCI_MANIFEST, ParsedManifest

if TYPE_CHECKING:
    from .registry import Registry


def check(registry: Registry, name: str, parsed: ParsedManifest, body: bytes, tags: Any, digest: str) -> None:
    settings = registry.settings
    if parsed.subject is not None and not settings.manifest_subject:
        raise RegistryError("MANIFEST_INVALID", "manifests with a subject are not supported",
                            reason="subject-refused", message="manifest invalid: subject not supported")
    if not settings.manifest_artifact_type and _declares_artifact_type(body):
        raise RegistryError("MANIFEST_INVALID", "manifests with an artifactType are not supported",
                            reason="artifact-type-refused", message="manifest invalid: artifactType not supported")
    if settings.immutable_tags and tags:
        _check_immutable(registry, name, tags, digest, settings)


def _declares_artifact_type(body: bytes) -> bool:
    # The parsed manifest derives an artifact type from the config for images; only the
    # document's own top-level field counts here.
    return b"artifactType" in body and "artifactType" in json.loads(body)


def _check_immutable(registry: Registry, name: str, tags: Any, digest: str, settings: Any) -> None:
    globs = [glob.strip() for glob in settings.immutable_tags.split(",") if glob.strip()]
    same_allowed = settings.immutable_tags_allow_same
    repo = registry.store.repositories.get(name)
    if repo is None:
        return
    for tag in tags:
        current = repo.tags.get(tag)
        if current is not None and (current != digest or not same_allowed) \
                and any(fnmatch.fnmatchcase(tag, g) for g in globs):
            raise RegistryError("DENIED", {"tag": tag, "current": current}, status=409, reason="tag-immutable",
                                message=f"tag {tag} is immutable and already points to another manifest")


_NOT_ACCEPTED = {OCI_MANIFEST: "OCI manifest found, but accept header does not support OCI manifests",
                 OCI_INDEX: "OCI index found, but accept header does not support OCI indexes"}


def unacceptable(request: Request, response: Response) -> Optional[RegistryError]:
    """MANIFEST_UNKNOWN for an OCI manifest or index about to be answered to a client whose Accept
    header does not list its media type (`oci_accept_negotiation`), else None."""
    if response.status != 200:
        return None
    media_type = next((value for header, value in response.headers if header == "Content-Type"), "")
    message = _NOT_ACCEPTED.get(media_type)
    if message is None:
        return None
    accepted = {part.split(";", 1)[0].strip() for part in (request.header("Accept") or "").split(",")}
    if media_type in accepted:
        return None
    return RegistryError("MANIFEST_UNKNOWN", {"mediaType": media_type}, message=message,
                         reason="manifest-not-acceptable")
