"""Built-in search extension, following the `_oci/ext/search` proposal.

Source: opencontainers/distribution-spec pull request #504 ("docs: initial commit for search
extension", for issue #71), whose `extensions/_search.md` defines `GET /v2/_oci/ext/search` with the
parameters `repository`, `image`, `mediaType`, `artifactType`, `annotation` and `digest`, and
pagination as in "listing tags". The same text lives on as cncf-tags/wg-artifacts
`docs/search/search.md` under `_cncf`. The proposal leaves matching rules and the response body
open ("TBD"); mockreg's choices, answered from the registry's real contents:

- Only `repository` (or no parameter): `{"repositories": [names]}`, like `_catalog`.
- Any image parameter present (even empty, which means "all images"):
  `{"images": [{"repository", "digest", "mediaType", "size", "artifactType"?, "annotations"?,
  "tags"}]}`, one entry per manifest, untagged manifests (signatures, SBOMs) included.
- `repository` and `image` (a tag) take exact names or shell-style patterns (`demo/*`, `v1.*`);
  `mediaType` and `artifactType` compare exactly (artifactType of an image manifest without one is
  its config media type, as the referrers API reports it); `annotation` is `key` (present) or
  `key=value`; `digest` matches a manifest or any blob or manifest it references.
- A parameter given several times matches any of its values; different parameters must all match.
- Unknown parameters (the proposal's `global`, `key`) answer 400 rather than being ignored.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Dict, List

from ..errors import RegistryError
from ..http import Request, Response, json_response
from ..store import Repository, StoredManifest
from .pagination import paginate

if TYPE_CHECKING:
    from ..registry import Registry

IMAGE_PARAMETERS = ("image", "mediaType", "artifactType", "annotation", "digest")
PARAMETERS = ("repository",) + IMAGE_PARAMETERS + ("n", "last")
MEDIA_TYPE = "application/json"


def search(request: Request, registry: Registry) -> Response:
    unknown = sorted(key for key in request.query if key not in PARAMETERS)
    if unknown:
        raise RegistryError("UNSUPPORTED", {"unsupported": unknown, "supported": list(PARAMETERS)},
                            status=400, message="invalid parameters")
    repositories = _values(request, "repository")
    store = registry.store
    if not any(key in request.query for key in IMAGE_PARAMETERS):
        names = [name for name in store.catalog() if _matches(name, repositories)]
        page, headers = paginate(request, names)
        return _json({"repositories": page}, headers)
    images: List[Dict[str, Any]] = []
    with store.lock:
        for repository in store.repositories.values():
            if _matches(repository.name, repositories):
                images.extend(_images(repository, request))
    found, headers = paginate(request, images, key=lambda image: f"{image['repository']}@{image['digest']}")
    return _json({"images": found}, headers)


def _images(repository: Repository, request: Request) -> List[Dict[str, Any]]:
    tags_of: Dict[str, List[str]] = {}
    for tag, digest in repository.tags.items():
        tags_of.setdefault(digest, []).append(tag)
    images = _values(request, "image")
    media_types = _values(request, "mediaType")
    artifact_types = _values(request, "artifactType")
    annotations = _values(request, "annotation")
    digests = _values(request, "digest")
    found = []
    for digest, manifest in repository.manifests.items():
        parsed = manifest.parsed
        tags = sorted(tags_of.get(digest, ()))
        if images and not any(_matches(tag, images) for tag in tags):
            continue
        if media_types and manifest.media_type not in media_types:
            continue
        if artifact_types and parsed.artifact_type not in artifact_types:
            continue
        if annotations and not any(_has_annotation(parsed.annotations or {}, a) for a in annotations):
            continue
        if digests and not _references(digest, manifest, digests):
            continue
        found.append(_describe(repository.name, digest, manifest, tags))
    return found


def _describe(name: str, digest: str, manifest: StoredManifest, tags: List[str]) -> Dict[str, Any]:
    entry: Dict[str, Any] = {"repository": name, "digest": digest, "mediaType": manifest.media_type,
                             "size": len(manifest.body)}
    if manifest.parsed.artifact_type:
        entry["artifactType"] = manifest.parsed.artifact_type
    if manifest.parsed.annotations:
        entry["annotations"] = manifest.parsed.annotations
    entry["tags"] = tags
    return entry


def _values(request: Request, key: str) -> List[str]:
    """The non-empty values of a parameter; an empty value places no constraint."""
    return [value for value in request.args(key) if value]


def _matches(value: str, patterns: List[str]) -> bool:
    return not patterns or any(value == p or ("*" in p and fnmatchcase(value, p)) for p in patterns)


def _has_annotation(annotations: Dict[str, str], wanted: str) -> bool:
    key, sep, value = wanted.partition("=")
    return key in annotations and (not sep or annotations[key] == value)


def _references(digest: str, manifest: StoredManifest, wanted: List[str]) -> bool:
    if digest in wanted:
        return True
    parsed = manifest.parsed
    return any(d.digest in wanted for d in parsed.blobs + parsed.children)


def _json(payload: Dict[str, Any], headers: List[Any]) -> Response:
    return json_response(200, json.dumps(payload).encode(), headers, content_type=MEDIA_TYPE)
