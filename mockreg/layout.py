"""OCI image layouts (image-spec image-layout.md): import one into a repository, export back.

Directories and tar archives (as skopeo, oras, buildkit and `docker save` write them) are both
read. Only the paths the layout format names are ever opened (`oci-layout`, `index.json`,
`blobs/<alg>/<encoded>` with the digest grammar checked first), a symlink leaving the layout is
refused, and every blob is checked against its digest. An import is all-or-nothing.
"""

from __future__ import annotations

import abc
import io
import json
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Set, Tuple, Union

from . import digest as digests
from . import manifests
from .errors import RegistryError

if TYPE_CHECKING:
    from .registry import Registry

REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT_VERSION = {"imageLayoutVersion": "1.0.0"}
PathLike = Union[str, "os.PathLike[str]"]
# Index nesting a layout may have; real images nest one or two levels.
MAX_NESTING = 64


class LayoutError(ValueError):
    """A layout that cannot be imported; the message names the layout and the problem."""


@dataclass
class ImportedLayout:
    repository: str
    tags: Dict[str, str] = field(default_factory=dict)
    manifests: List[str] = field(default_factory=list)
    blobs: List[str] = field(default_factory=list)


def import_layout(registry: Registry, source: PathLike, repository: str,
                  tag: Optional[str] = None) -> ImportedLayout:
    """Copy every manifest reachable from the layout's index.json into `repository`.

    Tags come from `org.opencontainers.image.ref.name` annotations (a full reference such as
    `example.com/app:1.0` contributes `1.0`); `tag` names the single entry of a layout whose
    entry has none.
    """
    from .registry import Registry  # a staging registry with the same rules

    staging = Registry(settings=registry.settings)
    result = ImportedLayout(repository)
    with _open_layout(Path(source)) as reader:
        index = reader.json("index.json")
        entries = index.get("manifests") if isinstance(index, dict) else None
        if not isinstance(entries, list):
            raise LayoutError(f"{source}: index.json has no manifests list")
        importer = _Importer(staging, reader, repository, result)
        for position, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("digest"), str):
                raise LayoutError(f"{source}: index.json manifests[{position}] is not a descriptor")
            importer.manifest(entry)
            name = _tag_of(entry) or (tag if len(entries) == 1 else None)
            if name is not None:
                try:
                    staging.push_manifest(repository, bytes(reader.blob(entry["digest"])),
                                          tags=[name], media_type=entry.get("mediaType"),
                                          algorithm=entry["digest"].split(":", 1)[0])
                except RegistryError as exc:
                    raise LayoutError(f"{source}: cannot tag {entry['digest']} as {name!r}: {exc}") from None
                result.tags[name] = entry["digest"]
    registry.store.absorb(staging.store)
    return result


class _Importer:
    def __init__(self, staging: Registry, reader: _Reader, repository: str, result: ImportedLayout) -> None:
        self.staging, self.reader, self.repository, self.result = staging, reader, repository, result
        self.done: Set[str] = set()

    def manifest(self, descriptor: Dict[str, Any], depth: int = 0) -> None:
        digest = descriptor["digest"]
        if digest in self.done:
            return
        if depth > MAX_NESTING:  # content addressing rules out loops, but not chains deep enough to crash
            raise LayoutError(f"{self.reader.name}: indexes nest more than {MAX_NESTING} levels deep at {digest}")
        self.done.add(digest)
        body = bytes(self.reader.blob(digest))
        try:
            parsed = manifests.parse(body, descriptor.get("mediaType"))
        except RegistryError as exc:
            raise LayoutError(f"{self.reader.name}: manifest {digest}: {exc.detail}") from None
        for child in parsed.children:
            self.manifest({"digest": child.digest, "mediaType": child.media_type}, depth + 1)
        for blob in parsed.blobs:
            self.blob(blob)
        try:
            self.staging.push_manifest(self.repository, body, media_type=parsed.media_type,
                                       algorithm=digest.split(":", 1)[0])
        except RegistryError as exc:
            raise LayoutError(f"{self.reader.name}: manifest {digest}: {exc}") from None
        self.result.manifests.append(digest)

    def blob(self, descriptor: manifests.Descriptor) -> None:
        if descriptor.digest in self.done:
            return
        if not self.reader.has_blob(descriptor.digest):
            if manifests.is_distributable(descriptor) and not self.staging.settings.sparse_manifests:
                raise LayoutError(f"{self.reader.name}: blob {descriptor.digest} is referenced but missing")
            return
        self.done.add(descriptor.digest)
        data = self.reader.blob(descriptor.digest)
        self.staging.store.add_blob(self.repository, descriptor.digest, data)
        self.result.blobs.append(descriptor.digest)


def _tag_of(entry: Dict[str, Any]) -> Optional[str]:
    annotations = entry.get("annotations") or {}
    name = annotations.get(REF_NAME)
    if not isinstance(name, str) or not name:
        return None
    # "example.com:5000/app:1.0" -> "1.0"; a bare "1.0" stays as it is.
    tail = name.rsplit("/", 1)[-1]
    return tail.rsplit(":", 1)[-1] if ":" in tail else tail


class _Reader(abc.ABC):
    name: str

    @abc.abstractmethod
    def raw(self, path: str) -> bytes: ...

    @abc.abstractmethod
    def exists(self, path: str) -> bool: ...

    def json(self, path: str) -> Any:
        try:
            return json.loads(self.raw(path))
        except ValueError as exc:
            raise LayoutError(f"{self.name}: {path} is not JSON: {exc}") from None

    def has_blob(self, digest: str) -> bool:
        return self.exists(_blob_path(self.name, digest))

    def blob(self, digest: str) -> bytes:
        data = self.raw(_blob_path(self.name, digest))
        algorithm = digest.split(":", 1)[0]
        if digests.of(data, algorithm) != digest:
            raise LayoutError(f"{self.name}: blob {digest} does not match its digest")
        return data


def _blob_path(layout: str, digest: str) -> str:
    try:
        algorithm = digests.parse(digest)
    except digests.DigestError as exc:
        raise LayoutError(f"{layout}: {exc}") from None
    return f"blobs/{algorithm}/{digest.split(':', 1)[1]}"


class _DirectoryReader(_Reader):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.name = str(root)

    def _path(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if self.root not in path.parents:
            raise LayoutError(f"{self.name}: {relative} leads outside the layout")
        return path

    def exists(self, path: str) -> bool:
        return self._path(path).is_file()

    def raw(self, path: str) -> bytes:
        target = self._path(path)
        if not target.is_file():
            raise LayoutError(f"{self.name}: {path} is missing")
        return target.read_bytes()


class _TarReader(_Reader):
    def __init__(self, archive: tarfile.TarFile, name: str) -> None:
        self.archive = archive
        self.name = name
        self.members = {(m.name[2:] if m.name.startswith("./") else m.name): m
                        for m in archive.getmembers()}

    def _member(self, path: str) -> Optional[tarfile.TarInfo]:
        member = self.members.get(path)
        if member is not None and not member.isreg():
            raise LayoutError(f"{self.name}: {path} is not a regular file in the archive")
        return member

    def exists(self, path: str) -> bool:
        return self._member(path) is not None

    def raw(self, path: str) -> bytes:
        member = self._member(path)
        stream = self.archive.extractfile(member) if member is not None else None
        if stream is None:
            raise LayoutError(f"{self.name}: {path} is missing")
        return stream.read()


class _open_layout:
    def __init__(self, source: Path) -> None:
        self.source = source
        self.archive: Optional[tarfile.TarFile] = None

    def __enter__(self) -> _Reader:
        if self.source.is_dir():
            reader: _Reader = _DirectoryReader(self.source)
        elif self.source.is_file():
            try:
                self.archive = tarfile.open(self.source, "r:*")
            except tarfile.TarError as exc:
                raise LayoutError(f"{self.source}: not a directory or tar archive: {exc}") from None
            reader = _TarReader(self.archive, str(self.source))
        else:
            raise LayoutError(f"{self.source}: no such layout")
        version = reader.json("oci-layout") if reader.exists("oci-layout") else None
        if not isinstance(version, dict) or "imageLayoutVersion" not in version:
            raise LayoutError(f"{self.source}: oci-layout file with imageLayoutVersion is missing")
        return reader

    def __exit__(self, *exc: Any) -> None:
        if self.archive is not None:
            self.archive.close()


def export_layout(registry: Registry, destination: PathLike, repository: Optional[str] = None) -> Path:
    """Write a repository (or, with no repository, the whole registry) as an OCI image layout.

    A destination ending in `.tar` becomes a tar archive, anything else a directory. Tagged
    manifests are listed in index.json with `org.opencontainers.image.ref.name` (`tag`, or
    `repository:tag` for a whole-registry export); untagged ones that nothing else references
    (referrers, for instance) are listed without it, so nothing is lost.
    """
    entries, blobs = _collect(registry, repository)
    index = {"schemaVersion": 2, "mediaType": manifests.OCI_INDEX, "manifests": entries}
    files: List[Tuple[str, Any]] = [
        ("oci-layout", json.dumps(LAYOUT_VERSION).encode()),
        ("index.json", json.dumps(index, indent=2).encode()),
    ]
    files += [(_blob_path(str(destination), d), blobs[d]) for d in sorted(blobs)]
    path = Path(destination)
    if path.suffix == ".tar":
        _write_tar(path, files)
    else:
        for relative, data in files:
            target = path / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return path


def _collect(registry: Registry, only: Optional[str]) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    store = registry.store
    entries: List[Dict[str, Any]] = []
    blobs: Dict[str, Any] = {}
    with store.lock:
        names = [only] if only is not None else sorted(store.repositories)
        for name in names:
            repo = store.repository(name)
            referenced = {c.digest for m in repo.manifests.values() for c in m.parsed.children}
            for digest, stored in repo.manifests.items():
                blobs[digest] = stored.body
                for blob in stored.parsed.blobs:
                    if blob.digest in repo.blobs:
                        blobs[blob.digest] = store.blobs[blob.digest]
            for tag in sorted(repo.tags):
                stored = repo.manifests[repo.tags[tag]]
                ref = tag if only is not None else f"{name}:{tag}"
                entries.append(_descriptor(stored, {REF_NAME: ref}))
            tagged = set(repo.tags.values())
            for digest in sorted(set(repo.manifests) - tagged - referenced):
                entries.append(_descriptor(repo.manifests[digest], None))
    return entries, blobs


def _descriptor(stored: Any, annotations: Optional[Dict[str, str]]) -> Dict[str, Any]:
    entry: Dict[str, Any] = {"mediaType": stored.media_type, "digest": stored.digest, "size": len(stored.body)}
    if annotations:
        entry["annotations"] = annotations
    return entry


def _write_tar(path: Path, files: List[Tuple[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as archive:
        for directory in ("blobs", *sorted({str(Path(name).parent) for name, _ in files if "/" in name})):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            archive.addfile(info)
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, _ViewReader(data))


class _ViewReader(io.RawIOBase):
    """Reads a blob through a memoryview so exporting never copies a whole blob at once."""

    def __init__(self, data: Any) -> None:
        super().__init__()
        self.view = memoryview(data)
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        chunk = self.view[self.position:self.position + len(target)]
        target[:len(chunk)] = chunk
        self.position += len(chunk)
        return len(chunk)
