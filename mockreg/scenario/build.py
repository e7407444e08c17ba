"""Turning a merged scenario document into deterministic content (no registry involved).

Every repository's images, indexes and artifacts become `mockreg.content` values; references
between them (an index's manifests, a `subject`, an extra tag) are resolved by name, tag or
digest, with cycles and dangling references reported against the file that wrote them.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple, Union

from .. import content
from ..content import Blob, Image, Index
from .errors import KeyPath, ScenarioError
from .files import Document

Manifest = Union[Image, Index]
KINDS = ("images", "indexes", "artifacts")
# How deep manifests may refer to each other (index -> index -> ...); real images nest a level or two.
MAX_NESTING = 64


@dataclass
class RepositoryPlan:
    """What one repository will hold, in the order it must be pushed."""

    name: str
    manifests: Dict[str, Manifest] = field(default_factory=dict)  # label -> content, pushable order
    tags: Dict[str, str] = field(default_factory=dict)  # tag -> label
    blobs: List[Blob] = field(default_factory=list)
    missing: Set[str] = field(default_factory=set)  # blob digests referenced but not stored
    fallback: List[str] = field(default_factory=list)  # labels of artifacts to list under the referrers tag
    layouts: List[Tuple[Path, Optional[str], KeyPath]] = field(default_factory=list)


def plan_repository(document: Document, name: str, spec: Dict[str, Any], referrers_api: bool) -> RepositoryPlan:
    return _Planner(document, name, spec, referrers_api).plan()


class _Planner:
    def __init__(self, document: Document, name: str, spec: Dict[str, Any], referrers_api: bool) -> None:
        self.document = document
        self.name = name
        self.referrers_api = referrers_api
        self.result = RepositoryPlan(name)
        self.entries: Dict[str, Tuple[str, Dict[str, Any], KeyPath]] = {}
        self.tag_owner: Dict[str, str] = {}
        self.building: List[str] = []
        self.where: KeyPath = ("repositories", name)
        self.spec = spec

    def error(self, where: KeyPath, problem: str) -> Exception:
        return self.document.error(where, problem)

    def plan(self) -> RepositoryPlan:
        for kind in KINDS:
            for position, entry in enumerate(self.spec.get(kind, [])):
                where = self.where + (kind, position)
                label = entry.get("name") or f"{kind}[{position}]"
                if label in self.entries:
                    raise self.error(where + ("name",), f"the name {label!r} is used twice in {self.name}")
                self.entries[label] = (kind, entry, where)
                for tag in entry.get("tags", []):
                    self._claim_tag(tag, label, where + ("tags",))
        for label in self.entries:
            self._build(label)
        for tag, ref in self.spec.get("tags", {}).items():
            self._claim_tag(tag, self._resolve(ref, self.where + ("tags", tag)), self.where + ("tags", tag))
        for position, blob in enumerate(self.spec.get("blobs", [])):
            self.result.blobs.append(self._blob(blob, self.where + ("blobs", position), content.OCTET_STREAM, ""))
        for position, layout in enumerate(self.spec.get("layouts", [])):
            where = self.where + ("layouts", position)
            base = self.document.base_dir(where).resolve()
            path = (base / layout["path"]).resolve()
            if base not in path.parents:  # as for `file`: a scenario reads nothing outside its directory
                raise self.error(where + ("path",), f"{layout['path']!r} lies outside the scenario's directory {base}")
            self.result.layouts.append((path, layout.get("tag"), where))
        return self.result

    def _claim_tag(self, tag: str, label: str, where: KeyPath) -> None:
        owner = self.tag_owner.get(tag)
        if owner is not None and owner != label:
            raise self.error(where, f"tag {tag!r} is given to both {owner!r} and {label!r}")
        self.tag_owner[tag] = label
        self.result.tags[tag] = label

    def _resolve(self, ref: str, where: KeyPath) -> str:
        """The label of the manifest a name, tag or digest refers to."""
        label = ref if ref in self.entries else self.tag_owner.get(ref)
        if label is not None:
            self._build(label)
            return label
        if ":" in ref:
            for label in self.entries:
                if label not in self.building and self._build(label).digest == ref:
                    return label
        known = sorted(set(self.entries) | set(self.tag_owner))
        raise self.error(where, f"{ref!r} names no image, index or artifact in {self.name} "
                                f"(known names and tags: {', '.join(known) or 'none'})")

    def _build(self, label: str) -> Manifest:
        built = self.result.manifests.get(label)
        if built is not None:
            return built
        kind, entry, where = self.entries[label]
        if label in self.building:
            cycle = " -> ".join(self.building[self.building.index(label):] + [label])
            raise self.error(where, f"manifests refer to each other in a cycle: {cycle}")
        if len(self.building) >= MAX_NESTING:  # deep enough to exhaust Python's recursion otherwise
            raise self.error(where, f"manifests refer to each other more than {MAX_NESTING} levels deep")
        self.building.append(label)
        try:
            manifest = getattr(self, f"_build_{kind}")(entry, where, label)
        except ScenarioError:
            raise
        except ValueError as exc:
            raise self.error(where, str(exc)) from None
        finally:
            self.building.pop()
        self.result.manifests[label] = manifest
        return manifest

    def _subject(self, entry: Dict[str, Any], where: KeyPath) -> Optional[Manifest]:
        ref = entry.get("subject")
        return None if ref is None else self.result.manifests[self._resolve(ref, where + ("subject",))]

    def _build_images(self, entry: Dict[str, Any], where: KeyPath, label: str) -> Image:
        docker = entry.get("format") == "docker"
        layer_type = content.DOCKER_LAYER if docker else content.OCI_LAYER
        seed = f"{self.name}/{label}"
        layers = [self._blob(spec, where + ("layers", i), layer_type, f"{seed}/{i}")
                  for i, spec in enumerate(entry.get("layers", [{"size": 1024}]))]
        return content.build_image(layers, platform=entry.get("platform", "linux/amd64"),
                                   config=entry.get("config"), annotations=entry.get("annotations"),
                                   subject=self._subject(entry, where), format=entry.get("format", "oci"),
                                   seed=seed)

    def _build_indexes(self, entry: Dict[str, Any], where: KeyPath, label: str) -> Index:
        fmt = entry.get("format", "oci")
        if "manifests" in entry:
            children: List[Manifest] = [
                self.result.manifests[self._resolve(ref, where + ("manifests", i))]
                for i, ref in enumerate(entry["manifests"])]
        elif "platforms" in entry:
            children = [content.build_image((1024,), platform=p, seed=f"{self.name}/{label}", format=fmt)
                        for p in entry["platforms"]]
        else:
            raise self.error(where, "an index needs `manifests` (names, tags or digests) or `platforms`")
        return content.build_index(children, annotations=entry.get("annotations"),
                                   subject=self._subject(entry, where),
                                   artifact_type=entry.get("artifactType"), format=fmt)

    def _build_artifacts(self, entry: Dict[str, Any], where: KeyPath, label: str) -> Image:
        seed = f"{self.name}/{label}"
        blobs = [self._blob(spec, where + ("blobs", i), content.OCTET_STREAM, f"{seed}/{i}")
                 for i, spec in enumerate(entry.get("blobs", []))]
        config = self._blob(entry["config"], where + ("config",), content.EMPTY_JSON, f"{seed}/config") \
            if "config" in entry else None
        subject = self._subject(entry, where)
        artifact = content.build_artifact(entry["artifactType"], blobs, config=config, subject=subject,
                                          annotations=entry.get("annotations"), seed=seed)
        if subject is not None and entry.get("fallback_tag", not self.referrers_api):
            self.result.fallback.append(label)
        return artifact

    def _blob(self, spec: Dict[str, Any], where: KeyPath, media_type: str, seed: str) -> Blob:
        media_type = spec.get("mediaType", media_type)
        annotations = spec.get("annotations")
        if "size" in spec:
            blob = content.generated(spec["size"], spec.get("seed", seed), media_type, annotations)
        elif "text" in spec:
            blob = Blob(spec["text"].encode(), media_type, annotations)
        elif "json" in spec:
            blob = content.json_blob(spec["json"], media_type, annotations)
        elif "files" in spec:
            layer = content.tar_layer(spec["files"], compress=spec.get("compress", True))
            blob = Blob(layer.data, spec.get("mediaType", layer.media_type), annotations)
        elif "base64" in spec:
            try:
                blob = Blob(base64.b64decode(spec["base64"], validate=True), media_type, annotations)
            except (binascii.Error, ValueError):
                raise self.error(where + ("base64",), "expected base64 text, found something else") from None
        else:
            blob = Blob(self._read_file(spec["file"], where + ("file",)), media_type, annotations)
        if spec.get("missing"):
            self.result.missing.add(blob.digest)
        return blob

    def _read_file(self, relative: str, where: KeyPath) -> bytes:
        base = self.document.base_dir(where).resolve()
        path = (base / relative).resolve()
        if base not in path.parents:
            raise self.error(where, f"{relative!r} lies outside the scenario's directory {base}")
        try:
            return path.read_bytes()
        except OSError as exc:
            raise self.error(where, f"cannot read {relative!r}: {exc.strerror or exc}") from None
