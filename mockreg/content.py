"""Deterministic content to arrange a registry with: blobs, images, multi-platform indexes and
artifacts.

Everything is built as plain values first (`build_*`): the same inputs give the same bytes and so
the same digests, on every run and machine. `push*` then stores them through the Registry's
Python API (no HTTP) and returns the values, whose digests and descriptors a test asserts on::

    image = push_image(registry, "demo/app:1.0", layers=[1024, 2048], platform="linux/arm64")
    sbom = push_artifact(registry, "demo/app", "application/spdx+json", [b"{}"], subject=image)
"""

from __future__ import annotations

import gzip
import io
import json
import random
import struct
import tarfile
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import digest as digests
from .manifests import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST
from .reference import referrers_tag

if TYPE_CHECKING:
    from .registry import Registry

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
EMPTY_JSON = "application/vnd.oci.empty.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCTET_STREAM = "application/octet-stream"
DEFAULT_PLATFORMS = ("linux/amd64", "linux/arm64")
_RANDOM_BLOCK = 1 << 20

Seed = Union[int, str]
Annotations = Optional[Mapping[str, str]]


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor (image-spec descriptor.md)."""

    media_type: str
    digest: str
    size: int
    annotations: Annotations = None
    platform: Optional[Mapping[str, str]] = None
    artifact_type: Optional[str] = None

    def as_dict(self) -> Dict[str, Any]:
        document: Dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.artifact_type:
            document["artifactType"] = self.artifact_type
        if self.annotations:
            document["annotations"] = dict(self.annotations)
        if self.platform:
            document["platform"] = dict(self.platform)
        return document

    def bare(self) -> Descriptor:
        """Only media type, digest and size: the form a `subject` field takes."""
        return Descriptor(self.media_type, self.digest, self.size)


@dataclass(frozen=True)
class Blob:
    """Bytes with a media type; its digest is computed once, when it is made."""

    data: bytes = field(repr=False)
    media_type: str = OCTET_STREAM
    annotations: Annotations = None
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", digests.of(self.data))

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, self.size, self.annotations)


class _ManifestBytes:
    """What images and indexes share: serialised bytes, whose digest is computed once."""

    manifest: bytes
    digest: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", digests.of(self.manifest))

    @property
    def json(self) -> Dict[str, Any]:
        document: Dict[str, Any] = json.loads(self.manifest)
        return document


@dataclass(frozen=True)
class Image(_ManifestBytes):
    """An image (or artifact) manifest and the blobs it references."""

    manifest: bytes = field(repr=False)
    media_type: str
    config: Blob
    layers: Tuple[Blob, ...]
    platform: Optional[Mapping[str, str]] = None
    artifact_type: Optional[str] = None
    digest: str = field(init=False)

    @property
    def descriptor(self) -> Descriptor:
        """The descriptor an index or a `subject` uses for this manifest (with its platform)."""
        return Descriptor(self.media_type, self.digest, len(self.manifest), platform=self.platform,
                          artifact_type=self.artifact_type)

    @property
    def blobs(self) -> Tuple[Blob, ...]:
        return (self.config,) + self.layers


@dataclass(frozen=True)
class Index(_ManifestBytes):
    """An image index (or Docker manifest list) and the manifests it holds."""

    manifest: bytes = field(repr=False)
    media_type: str
    manifests: Tuple[Union[Image, Index, Descriptor], ...]
    artifact_type: Optional[str] = None
    digest: str = field(init=False)

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.manifest), artifact_type=self.artifact_type)

    @property
    def images(self) -> List[Image]:
        return [m for m in self.manifests if isinstance(m, Image)]


Content = Union[Blob, Image, Index]
LayerSpec = Union[int, bytes, Blob]
SubjectSpec = Union[Image, Index, Descriptor]

EMPTY = Blob(b"{}", EMPTY_JSON)


# -- blobs ----------------------------------------------------------------------------------
def random_bytes(size: int, seed: Seed = 0) -> bytes:
    """`size` pseudo-random bytes; the same (size, seed) always gives the same bytes.

    Up to 1 MiB the bytes come straight from a seeded generator. Past that, one random MiB is
    repeated, each MiB rotated by a seeded offset: generation then runs at memory speed (a
    1 GiB layer in well under a second instead of several) and the result is built in place,
    so it exists once in memory.
    """
    if size < 0:
        raise ValueError(f"size must not be negative, got {size}")
    generator = random.Random(f"mockreg:{seed}")
    if size <= _RANDOM_BLOCK:
        return generator.randbytes(size)
    block = generator.randbytes(_RANDOM_BLOCK)
    out = io.BytesIO()
    for start in range(0, size, _RANDOM_BLOCK):
        offset = generator.randrange(_RANDOM_BLOCK)
        length = min(_RANDOM_BLOCK, size - start)
        out.write(block[offset:offset + length])
        if offset + length > _RANDOM_BLOCK:
            out.write(block[:offset + length - _RANDOM_BLOCK])
    return out.getvalue()  # BytesIO hands over its buffer here without another copy


def generated(size: int, seed: Seed = 0, media_type: str = OCI_LAYER, annotations: Annotations = None) -> Blob:
    """A blob of `size` deterministic bytes (not a real tar: use `tar_layer` for unpackable layers)."""
    return Blob(random_bytes(size, seed), media_type, annotations)


def json_blob(document: Any, media_type: str = "application/json", annotations: Annotations = None) -> Blob:
    """A JSON document serialised canonically (sorted keys, no spaces), so equal documents are equal blobs."""
    return Blob(_canonical(document), media_type, annotations)


def tar_layer(files: Mapping[str, Union[bytes, str]], compress: bool = False) -> Blob:
    """A real, reproducible tar layer (fixed owner and times) holding `files` by path."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in sorted(files):
            content = files[path]
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(path.lstrip("/"))
            # Every header field set explicitly: owner, group and type must not depend on defaults.
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            archive.addfile(info, io.BytesIO(data))
    data = buffer.getvalue()
    if compress:
        return Blob(gzip_bytes(data), OCI_LAYER_GZIP)
    return Blob(data, OCI_LAYER)


# gzip member header (RFC 1952 §2.3): magic, CM=deflate, no flags, MTIME=0, XFL=2 (maximum
# compression), OS=255 (unknown). `gzip.compress` writes OS=3 on 3.11/3.12 and 255 on 3.9/3.10/3.13
# (gh-112346), so the same layer would get another digest on another Python: mockreg writes the
# header itself. These bytes equal what `gzip.compress(data, mtime=0)` gives on 3.9/3.10/3.13.
_GZIP_HEADER = b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + b"\x02\xff"


def gzip_bytes(data: bytes) -> bytes:
    """`data` as one gzip member, byte-identical on every Python: fixed header, level 9 deflate."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS, zlib.DEF_MEM_LEVEL, zlib.Z_DEFAULT_STRATEGY)
    body = compressor.compress(data) + compressor.flush()
    return _GZIP_HEADER + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


# -- manifests ------------------------------------------------------------------------------
def parse_platform(platform: Union[str, Mapping[str, str], None]) -> Optional[Dict[str, str]]:
    """"linux/arm64/v8" -> {"os": "linux", "architecture": "arm64", "variant": "v8"}."""
    if platform is None or isinstance(platform, Mapping):
        return dict(platform) if platform is not None else None
    parts = platform.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"a platform is os/architecture[/variant], got {platform!r}")
    parsed = {"architecture": parts[1], "os": parts[0]}
    if len(parts) == 3:
        parsed["variant"] = parts[2]
    return parsed


def build_image(layers: Sequence[LayerSpec] = (1024,), *, platform: Union[str, Mapping[str, str], None] = "linux/amd64",
                config: Union[Mapping[str, Any], Blob, None] = None, annotations: Annotations = None,
                subject: Optional[SubjectSpec] = None, artifact_type: Optional[str] = None,
                seed: Seed = 0, format: str = "oci") -> Image:
    """An image manifest with its config and layers.

    `layers` items are a size (deterministic bytes from `seed`, the platform and the position),
    bytes, or a ready `Blob`. `config` is a mapping merged into the generated image config
    (architecture, os, rootfs.diff_ids), or a `Blob` used as it is. `format="docker"` gives a
    Docker schema 2 manifest (no annotations, subject or artifactType there).
    """
    docker = _check_format(format, annotations, subject, artifact_type)
    plat = parse_platform(platform)
    layer_type = DOCKER_LAYER if docker else OCI_LAYER
    blobs = tuple(_layer(spec, layer_type, f"{seed}/{_platform_key(plat)}/{i}") for i, spec in enumerate(layers))
    if isinstance(config, Blob):
        config_blob = config
    else:
        document: Dict[str, Any] = dict(plat or {})
        document.update({"config": {}, "rootfs": {"type": "layers", "diff_ids": [_diff_id(b) for b in blobs]}})
        document.update(config or {})
        config_blob = json_blob(document, DOCKER_CONFIG if docker else OCI_CONFIG)
    return _image(OCI_MANIFEST if not docker else DOCKER_MANIFEST, config_blob, blobs, plat,
                  annotations, subject, artifact_type)


def build_artifact(artifact_type: str, blobs: Sequence[LayerSpec] = (), *, config: Optional[Blob] = None,
                   subject: Optional[SubjectSpec] = None, annotations: Annotations = None,
                   seed: Seed = 0) -> Image:
    """An artifact: an image manifest with `artifactType`, following image-spec's "Guidelines for
    Artifact Usage" (empty config unless one is given; the empty descriptor when there are no blobs)."""
    if not artifact_type:
        raise ValueError("an artifact needs an artifact_type, e.g. application/vnd.example.sbom.v1+json")
    layers = tuple(_layer(spec, OCTET_STREAM, f"{seed}/artifact/{i}") for i, spec in enumerate(blobs)) or (EMPTY,)
    return _image(OCI_MANIFEST, config or EMPTY, layers, None, annotations, subject, artifact_type)


def build_index(manifests: Sequence[Union[Image, Index, Descriptor]], *, annotations: Annotations = None,
                subject: Optional[SubjectSpec] = None, artifact_type: Optional[str] = None,
                format: str = "oci") -> Index:
    """An index over the given manifests (their descriptors carry their platforms)."""
    docker = _check_format(format, annotations, subject, artifact_type)
    media_type = DOCKER_MANIFEST_LIST if docker else OCI_INDEX
    document: Dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type}
    if artifact_type:
        document["artifactType"] = artifact_type
    document["manifests"] = [(m if isinstance(m, Descriptor) else m.descriptor).as_dict() for m in manifests]
    _add_subject_and_annotations(document, subject, annotations)
    return Index(_canonical(document), media_type, tuple(manifests), artifact_type)


def build_multiplatform(platforms: Sequence[str] = DEFAULT_PLATFORMS, layers: Sequence[LayerSpec] = (1024,), *,
                        annotations: Annotations = None, seed: Seed = 0, format: str = "oci") -> Index:
    """A multi-platform index: one image per platform (distinct layers each), then the index."""
    images = [build_image(layers, platform=p, seed=seed, format=format) for p in platforms]
    return build_index(images, annotations=annotations, format=format)


# -- pushing --------------------------------------------------------------------------------
def push(registry: Registry, repository: str, content: Content, tags: Union[str, Sequence[str]] = ()) -> Content:
    """Store `content` and everything it references in `repository`; tag the top manifest."""
    if isinstance(content, Blob):
        registry.push_blob(repository, content.data)
        return content
    if isinstance(content, Image):
        for blob in content.blobs:
            registry.push_blob(repository, blob.data)
    else:
        for child in content.manifests:
            if not isinstance(child, Descriptor):
                push(registry, repository, child)
    registry.push_manifest(repository, content.manifest, tags, media_type=content.media_type)
    return content


def push_image(registry: Registry, reference: str, layers: Sequence[LayerSpec] = (1024,), **options: Any) -> Image:
    """Build an image (see `build_image` for `options`) and push it to "repo[:tag]"."""
    repository, tags = split_reference(reference)
    image = build_image(layers, **options)
    push(registry, repository, image, tags)
    return image


def push_index(registry: Registry, reference: str, platforms: Sequence[str] = DEFAULT_PLATFORMS,
               layers: Sequence[LayerSpec] = (1024,), **options: Any) -> Index:
    """Build a multi-platform index (see `build_multiplatform`) and push it to "repo[:tag]"."""
    repository, tags = split_reference(reference)
    index = build_multiplatform(platforms, layers, **options)
    push(registry, repository, index, tags)
    return index


def push_artifact(registry: Registry, reference: str, artifact_type: str, blobs: Sequence[LayerSpec] = (), *,
                  subject: Union[SubjectSpec, str, None] = None, fallback_tag: Optional[bool] = None,
                  **options: Any) -> Image:
    """Build an artifact (see `build_artifact`) and push it to "repo[:tag]".

    `subject` may also be a tag or digest already in the repository. `fallback_tag` also updates
    the referrers tag schema index, as a client does for a registry without the referrers API;
    by default it does so exactly when the registry's `referrers` setting is off.
    """
    repository, tags = split_reference(reference)
    if isinstance(subject, str):
        stored = registry.manifest(repository, subject)
        subject = Descriptor(stored.media_type, stored.digest, len(stored.body))
    artifact = build_artifact(artifact_type, blobs, subject=subject, **options)
    push(registry, repository, artifact, tags)
    if subject is not None and (fallback_tag if fallback_tag is not None else not registry.settings.referrers):
        add_to_referrers_tag(registry, repository, artifact)
    return artifact


def add_to_referrers_tag(registry: Registry, repository: str, referrer: Union[Image, Index]) -> Index:
    """Add `referrer` to the index its subject's fallback tag (`sha256-<hex>`) points at."""
    subject = json.loads(referrer.manifest).get("subject")
    if not subject:
        raise ValueError("only a manifest with a subject can be listed under the referrers tag")
    tag = referrers_tag(subject["digest"])
    entries: List[Descriptor] = []
    if tag in registry.tags(repository):
        for item in registry.manifest(repository, tag).json.get("manifests", []):
            if item["digest"] != referrer.digest:
                entries.append(Descriptor(item["mediaType"], item["digest"], item["size"], item.get("annotations"),
                                          artifact_type=item.get("artifactType")))
    annotations = json.loads(referrer.manifest).get("annotations")
    artifact_type = referrer.artifact_type  # the spec's rule: an image's config media type stands in
    if artifact_type is None and isinstance(referrer, Image):
        artifact_type = referrer.config.media_type
    entries.append(Descriptor(referrer.media_type, referrer.digest, len(referrer.manifest), annotations,
                              artifact_type=artifact_type))
    index = build_index(entries)
    registry.push_manifest(repository, index.manifest, tag, media_type=index.media_type)
    return index


def split_reference(reference: str) -> Tuple[str, List[str]]:
    """"demo/app:1.0" -> ("demo/app", ["1.0"]); "demo/app" -> ("demo/app", [])."""
    repository, sep, tag = reference.rpartition(":")
    if sep and "/" not in tag:
        return repository, [tag]
    return reference, []


# -- helpers --------------------------------------------------------------------------------
def _image(media_type: str, config: Blob, layers: Tuple[Blob, ...], platform: Optional[Dict[str, str]],
           annotations: Annotations, subject: Optional[SubjectSpec], artifact_type: Optional[str]) -> Image:
    document: Dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type}
    if artifact_type:
        document["artifactType"] = artifact_type
    document["config"] = config.descriptor.as_dict()
    document["layers"] = [layer.descriptor.as_dict() for layer in layers]
    _add_subject_and_annotations(document, subject, annotations)
    return Image(_canonical(document), media_type, config, layers, platform, artifact_type)


def _add_subject_and_annotations(document: Dict[str, Any], subject: Optional[SubjectSpec],
                                 annotations: Annotations) -> None:
    if subject is not None:
        descriptor = subject if isinstance(subject, Descriptor) else subject.descriptor
        document["subject"] = descriptor.bare().as_dict()
    if annotations:
        document["annotations"] = dict(annotations)


def _layer(spec: LayerSpec, media_type: str, seed: str) -> Blob:
    if isinstance(spec, Blob):
        return spec
    if isinstance(spec, (bytes, bytearray)):
        return Blob(bytes(spec), media_type)
    if isinstance(spec, int) and not isinstance(spec, bool):
        return generated(spec, seed, media_type)
    raise TypeError(f"a layer is a size, bytes or a Blob, not {type(spec).__name__}")


def _diff_id(layer: Blob) -> str:
    """The digest of the uncompressed layer, which the image config lists."""
    if layer.data[:2] == b"\x1f\x8b":
        try:
            return digests.of(gzip.decompress(layer.data))
        except (OSError, EOFError):
            pass  # generated bytes that merely start like gzip
    return layer.digest


def _platform_key(platform: Optional[Dict[str, str]]) -> str:
    return "/".join(platform.get(k, "") for k in ("os", "architecture", "variant")) if platform else ""


def _check_format(format: str, annotations: Annotations, subject: Any, artifact_type: Optional[str]) -> bool:
    if format not in ("oci", "docker"):
        raise ValueError(f"format is 'oci' or 'docker', not {format!r}")
    if format == "docker" and (annotations or subject is not None or artifact_type):
        raise ValueError("Docker schema 2 manifests have no annotations, subject or artifactType; use format='oci'")
    return format == "docker"


def _canonical(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
