"""Manifests: end-3 (GET/HEAD), end-7a/7b (PUT, with ?tag=) and end-9 (DELETE by digest or tag)."""

from __future__ import annotations

from typing import TYPE_CHECKING, List

from .. import digest as digests
from .. import manifest_policy, manifests, reference
from ..errors import RegistryError
from ..http import Request, Response, empty
from ..store import StoredManifest
from .common import check_digest, check_name, digest_header, invalid_tag, method_disabled

if TYPE_CHECKING:
    from ..registry import Registry


def get(registry: Registry, request: Request, name: str, reference_: str) -> Response:
    check_name(name)
    _check_reference(registry, reference_)
    manifest = registry.store.resolve(name, reference_)
    etag = f'"{manifest.digest}"'
    headers = [
        ("Content-Type", manifest.media_type),
        ("Content-Length", str(len(manifest.body))),
        ("ETag", etag),
        *digest_header(registry, manifest.digest),
    ]
    if_match = request.header("If-Match")
    if if_match is not None and not _matches(if_match, etag, weak=False):
        raise RegistryError("DENIED", f"If-Match {if_match} does not match {etag}", status=412,
                            message="precondition failed")
    if _matches(request.header("If-None-Match"), etag):
        return Response(304, [h for h in headers if h[0] != "Content-Length"], b"")
    return Response(200, headers, b"" if request.method == "HEAD" else manifest.body)


def put(registry: Registry, request: Request, name: str, reference_: str) -> Response:
    check_name(name)
    by_digest = _check_reference(registry, reference_)
    tags = [] if by_digest else [reference_]
    # A registry without this feature ignores the parameters; clients notice the missing OCI-Tag.
    extra_tags = request.args("tag") if registry.settings.tag_query_params else []
    if extra_tags:
        for tag in extra_tags:
            if not reference.is_valid_tag(tag):
                raise invalid_tag(tag)
        tags.extend(t for t in extra_tags if t not in tags)
    body = request.read_all(registry.settings.manifest_size_limit or None)
    algorithm = reference_.split(":", 1)[0] if by_digest else "sha256"
    digest = digests.of(body, algorithm)
    if by_digest and digest != reference_:
        raise RegistryError("DIGEST_INVALID", f"manifest has digest {digest}, not {reference_}")
    parsed = manifests.parse(body, request.header("Content-Type"), registry.settings.manifest_content_type_check)
    stored = StoredManifest(digest, parsed.media_type, body, parsed)
    with registry.store.lock:  # check and write as one step, or two conditional writers both win
        _check_preconditions(registry, request, name, reference_)
        manifest_policy.check(registry, name, parsed, body, tags, digest)
        registry.store.put_manifest(name, stored, tags, registry.settings.sparse_manifests)
    headers = [("Location", f"/v2/{name}/manifests/{digest}"), *digest_header(registry, digest)]
    if parsed.subject is not None and registry.settings.referrers:
        headers.append(("OCI-Subject", parsed.subject.digest))
    if extra_tags:
        headers += [("OCI-Tag", tag) for tag in tags]
    return empty(201, headers)


def delete(registry: Registry, request: Request, name: str, reference_: str) -> Response:
    check_name(name)
    if _check_reference(registry, reference_):
        if not registry.settings.manifest_delete:
            raise method_disabled("manifest deletion", request, "GET, HEAD, PUT")
        registry.store.delete_manifest(name, reference_)
    else:
        if not registry.settings.tag_delete:
            raise method_disabled("tag deletion", request, "GET, HEAD, PUT")
        registry.store.delete_tag(name, reference_)
    return empty(202)


def _check_reference(registry: Registry, reference_: str) -> bool:
    """True when the reference is a digest, False for a tag; 400 when it is neither."""
    if ":" in reference_:
        check_digest(registry, reference_)
        return True
    if not reference.is_valid_tag(reference_):
        raise invalid_tag(reference_)
    return False


def _check_preconditions(registry: Registry, request: Request, name: str, reference_: str) -> None:
    """If-Match / If-None-Match on PUT (RFC 9110 13.1), so clients can update tags without races."""
    if_match, if_none_match = request.header("If-Match"), request.header("If-None-Match")
    if if_match is None and if_none_match is None:
        return
    try:
        current = f'"{registry.store.resolve(name, reference_).digest}"'
    except RegistryError:
        current = None
    if if_match is not None and (current is None or not _matches(if_match, current, weak=False)):
        raise RegistryError("DENIED", f"If-Match {if_match} does not match {current or 'a missing manifest'}",
                            status=412, message="precondition failed")
    if if_none_match is not None and current is not None and _matches(if_none_match, current):
        raise RegistryError("DENIED", f"If-None-Match {if_none_match} matches the current manifest",
                            status=412, message="precondition failed")


def _matches(header: str | None, etag: str, weak: bool = True) -> bool:
    """RFC 9110 8.8.3.2: If-None-Match compares weakly (a W/ prefix is ignored), If-Match strongly."""
    if header is None:
        return False
    candidates: List[str] = [c.strip() for c in header.split(",")]
    if weak:
        candidates = [c[2:] if c.startswith("W/") else c for c in candidates]
    return "*" in candidates or etag in candidates or etag.strip('"') in candidates
