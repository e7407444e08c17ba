"""Parsing and validating manifests and indexes (OCI and Docker schema 2) and their descriptors."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from . import digest as digests
from .errors import RegistryError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
DOCKER_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_TYPES = IMAGE_TYPES | INDEX_TYPES

# Layers a registry must not require to be pushed (image-spec layer.md, Docker foreign layers).
NON_DISTRIBUTABLE_LAYERS = frozenset({
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
})


# image-spec descriptor.md: a descriptor's mediaType "MUST comply with RFC 6838, including the naming
# requirements in its section 4.2" (the pattern of image-spec schema/defs-descriptor.json), and the
# registered algorithms' encoded parts are sha256 [a-f0-9]{64} and sha512 [a-f0-9]{128}.
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")
_ENCODED = {"sha256": re.compile(r"[a-f0-9]{64}"), "sha512": re.compile(r"[a-f0-9]{128}")}


@dataclass
class Descriptor:
    media_type: str
    digest: str
    size: int


@dataclass
class ParsedManifest:
    """What the registry needs to know about a manifest to store and index it."""

    media_type: str
    blobs: List[Descriptor] = field(default_factory=list)
    children: List[Descriptor] = field(default_factory=list)
    subject: Optional[Descriptor] = None
    artifact_type: Optional[str] = None
    annotations: Optional[Dict[str, str]] = None

    def referrer_descriptor(self, digest: str, size: int) -> Dict[str, Any]:
        """The descriptor the referrers API lists for this manifest (spec "Listing Referrers")."""
        entry: Dict[str, Any] = {"mediaType": self.media_type, "digest": digest, "size": size}
        if self.artifact_type:
            entry["artifactType"] = self.artifact_type
        if self.annotations:
            entry["annotations"] = self.annotations
        return entry


def media_type_of(content_type: Optional[str]) -> str:
    """The media type of a Content-Type header, parameters dropped (the spec says to ignore them)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse(body: bytes, content_type: Optional[str], strict_content_type: bool = False) -> ParsedManifest:
    """Validate a pushed manifest; raise MANIFEST_INVALID naming the first problem found.

    `content_type` is the type the manifest was pushed as (a PUT's Content-Type header; None when
    there is none). `strict_content_type` (the `manifest_content_type_check` setting, for PUTs)
    also requires that header to be the manifest's type: see `_check_content_type`.
    """
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _invalid(f"manifest is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise _invalid("manifest must be a JSON object")
    media_type = _media_type(document, media_type_of(content_type))
    if strict_content_type:
        _check_content_type(document, media_type, content_type)
    if document.get("schemaVersion") != 2:
        raise _invalid("schemaVersion must be 2")
    if media_type in INDEX_TYPES:
        parsed = ParsedManifest(media_type, children=_descriptors(document, "manifests", required=True))
        _check_platforms(document["manifests"])
        parsed.artifact_type = _optional_string(document, "artifactType")
    else:
        config = _descriptor(document.get("config"), "config")
        parsed = ParsedManifest(media_type, blobs=[config] + _descriptors(document, "layers", required=True))
        artifact_type = _optional_string(document, "artifactType")
        if media_type == OCI_MANIFEST and config.media_type == EMPTY_CONFIG and not artifact_type:
            # image-spec manifest.md, artifactType: "This MUST be set when config.mediaType is set to the empty value."
            raise _invalid(f"artifactType is required when config.mediaType is {EMPTY_CONFIG}")
        parsed.artifact_type = artifact_type or config.media_type
    if media_type in (OCI_MANIFEST, OCI_INDEX) and document.get("subject") is not None:
        parsed.subject = _descriptor(document["subject"], "subject")
    annotations = document.get("annotations")
    if annotations is not None:
        if not isinstance(annotations, dict) or not all(isinstance(v, str) for v in annotations.values()):
            raise _invalid("annotations must map strings to strings")
        parsed.annotations = annotations
    return parsed


def is_distributable(descriptor: Descriptor) -> bool:
    return descriptor.media_type not in NON_DISTRIBUTABLE_LAYERS


def _media_type(document: Dict[str, Any], content_type: str) -> str:
    declared = document.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise _invalid("mediaType must be a string")
    if content_type in DOCKER_SCHEMA1 or declared in DOCKER_SCHEMA1:
        raise _invalid("Docker schema 1 manifests are not supported")
    if content_type in MANIFEST_TYPES:
        if declared is not None and declared != content_type:
            raise _invalid(f"mediaType {declared!r} does not match Content-Type {content_type!r}")
        return content_type
    if declared in MANIFEST_TYPES:
        return declared
    if declared is not None:
        raise _invalid(f"unsupported manifest mediaType {declared!r}")
    if "manifests" in document:
        return OCI_INDEX
    if "config" in document:
        return OCI_MANIFEST
    raise _invalid(f"cannot tell the manifest type: Content-Type {content_type!r} and no mediaType")


def _check_content_type(document: Dict[str, Any], media_type: str, content_type: Optional[str]) -> None:
    """A manifest PUT's Content-Type must be the manifest's type, as the reference registry requires.

    distribution-spec ("Pushing Manifests"): "If a manifest includes a `mediaType` field, clients
    MUST set the `Content-Type` header to the value specified by the `mediaType` field", and "The
    registry SHOULD ignore parameters on the `Content-Type` header" (so `; charset=utf-8` passes).
    Without a `mediaType` field the header is all that names the type: the reference registry
    (distribution `manifests.go` UnmarshalManifest) picks the parser by Content-Type and has none
    for `application/json` or no header, so those are refused too. Docker schema 2 manifests and
    lists must carry their `mediaType` (distribution `manifest/schema2/manifest.go`,
    `manifest/manifestlist/manifestlist.go`); in an OCI manifest or index it may be absent
    (`manifest/ocischema/`: "if present, mediaType ... should be").
    """
    shown = repr(content_type) if content_type else "missing"
    declared = document.get("mediaType")
    if media_type_of(content_type) not in MANIFEST_TYPES:
        whose = f"the manifest's mediaType {declared!r}" if declared else \
            f"a manifest media type (this manifest, without a mediaType field, reads as {media_type!r})"
        raise _invalid(f"Content-Type {shown} is not {whose}: a manifest must be pushed with its own type "
                       "as Content-Type (the setting manifest_content_type_check=false accepts it)")
    if declared is None and media_type in (DOCKER_MANIFEST, DOCKER_MANIFEST_LIST):
        raise _invalid(f"a manifest pushed as Content-Type {media_type!r} must have the mediaType field "
                       f"{media_type!r}, and this one has none")


def _descriptors(document: Dict[str, Any], key: str, required: bool) -> List[Descriptor]:
    items = document.get(key)
    if items is None and not required:
        return []
    if not isinstance(items, list):
        raise _invalid(f"{key} must be a list of descriptors")
    return [_descriptor(item, f"{key}[{i}]") for i, item in enumerate(items)]


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise _invalid(f"{where} must be a descriptor object")
    media_type, digest, size = value.get("mediaType"), value.get("digest"), value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise _invalid(f"{where}.mediaType must be a non-empty string")
    if not _is_media_type(media_type):
        raise _invalid(f"{where}.mediaType {media_type!r} is not a media type as RFC 6838 names them")
    if not isinstance(digest, str) or not digests.looks_like_digest(digest):
        raise _invalid(f"{where}.digest is not a valid digest: {digest!r}")
    algorithm, _, encoded = digest.partition(":")
    if algorithm in _ENCODED and not _ENCODED[algorithm].fullmatch(encoded):
        raise _invalid(f"{where}.digest {digest!r} is not a {algorithm} digest (lowercase hex of the right length)")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size < 1 << 63:
        raise _invalid(f"{where}.size must be a non-negative integer (int64)")
    urls = value.get("urls")
    if urls is not None and not (isinstance(urls, list) and all(isinstance(url, str) for url in urls)):
        raise _invalid(f"{where}.urls must be a list of strings")
    annotations = value.get("annotations")
    if annotations is not None and not (isinstance(annotations, dict)
                                        and all(isinstance(v, str) for v in annotations.values())):
        raise _invalid(f"{where}.annotations must map strings to strings")
    if "data" in value:
        _check_embedded_data(value["data"], digest, size, where)
    return Descriptor(media_type, digest, size)


def _check_embedded_data(data: Any, digest: str, size: int, where: str) -> None:
    try:
        raw = base64.b64decode(data, validate=True) if isinstance(data, str) else None
    except (binascii.Error, ValueError):
        raw = None
    if raw is None:
        raise _invalid(f"{where}.data must be base64")
    if len(raw) != size:
        raise _invalid(f"{where}.data holds {len(raw)} bytes but size says {size}")
    algorithm = digest.split(":", 1)[0]
    if algorithm in digests.supported_algorithms() and digests.of(raw, algorithm) != digest:
        raise _invalid(f"{where}.data does not match {where}.digest")


def _check_platforms(items: List[Any]) -> None:
    """image-index.md: a `platform`, when present, is an object whose `architecture` and `os` are REQUIRED."""
    for i, item in enumerate(items):
        platform = item.get("platform")
        if platform is None:
            continue
        if not isinstance(platform, dict):
            raise _invalid(f"manifests[{i}].platform must be an object")
        for key in ("architecture", "os"):
            if not isinstance(platform.get(key), str) or not platform[key]:
                raise _invalid(f"manifests[{i}].platform.{key} is required (a non-empty string)")


def _optional_string(document: Dict[str, Any], key: str) -> Optional[str]:
    value = document.get(key)
    if value is not None and not isinstance(value, str):
        raise _invalid(f"{key} must be a string")
    if key == "artifactType" and value and not _is_media_type(value):
        raise _invalid(f"artifactType {value!r} is not a media type as RFC 6838 names them")
    return value or None


# Verdicts on media types seen: a registry meets a handful, in every descriptor of every push.
# Bounded, so a client inventing types cannot grow it.
_MEDIA_TYPE_VERDICTS: Dict[str, bool] = {}


def _is_media_type(value: str) -> bool:
    verdict = _MEDIA_TYPE_VERDICTS.get(value)
    if verdict is None:
        verdict = _MEDIA_TYPE.fullmatch(value) is not None
        if len(_MEDIA_TYPE_VERDICTS) < 1024:
            _MEDIA_TYPE_VERDICTS[value] = verdict
    return verdict


def _invalid(detail: str) -> RegistryError:
    return RegistryError("MANIFEST_INVALID", detail)
