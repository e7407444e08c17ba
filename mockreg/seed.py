"""Copying content between a `Registry` and another registry over the distribution API.

`seed` pushes everything a registry holds (built from scenario files by `mockreg seed`) into a
remote one, in an order any registry accepts: blobs first (skipped when present, mounted when
another repository of this run already holds them), then manifests with the ones they refer to
(index children, subjects) before them, each tagged manifest pushed by its tags. `pull` is the
reverse for one repository: its tags, the manifests they name, their children, blobs and
referrers, so `mockreg export URL` can write it as an OCI image layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Set

from . import manifests
from .remote import Progress, RemoteRegistry
from .store import BlobBytes, StoredManifest

if TYPE_CHECKING:
    from .registry import Registry

Say = Callable[[str], None]


@dataclass
class Transfer:
    """What a seed or pull moved (counts add up over repositories)."""

    repositories: List[str] = field(default_factory=list)
    manifests: int = 0
    tags: int = 0
    uploaded: int = 0  # blobs sent (by seed) or received (by pull)
    mounted: int = 0  # blobs mounted from another repository
    present: int = 0  # blobs the other side already had
    bytes: int = 0  # blob bytes sent or received


@dataclass
class _Repository:
    name: str
    blobs: Dict[str, BlobBytes]
    manifests: Dict[str, StoredManifest]
    tags: Dict[str, List[str]]  # digest -> its tags


def seed(registry: Registry, remote: RemoteRegistry, say: Say = lambda text: None,
         progress: Optional[Progress] = None) -> Transfer:
    """Push every repository of `registry` to `remote`; RemoteError names the request that failed."""
    snapshot = _snapshot(registry)
    for repository in snapshot:
        _check_complete(repository)
    result = Transfer()
    holder: Dict[str, str] = {}  # blob digest -> a repository that has it on the remote
    for repository in snapshot:
        name = repository.name
        before = (result.uploaded, result.mounted, result.present)
        for digest, data in repository.blobs.items():
            if remote.has_blob(name, digest):
                result.present += 1
            elif digest in holder and remote.mount(name, digest, holder[digest]):
                result.mounted += 1
            else:
                remote.push_blob(name, digest, data, progress)
                result.uploaded += 1
                result.bytes += len(data)
            holder.setdefault(digest, name)
        for stored in _dependency_order(repository):
            tags = repository.tags.get(stored.digest) or [stored.digest]
            for reference in tags:
                remote.put_manifest(name, reference, stored.body, stored.media_type)
            result.manifests += 1
            result.tags += len(repository.tags.get(stored.digest, []))
        result.repositories.append(name)
        uploaded, mounted, present = (now - then for now, then in
                                      zip((result.uploaded, result.mounted, result.present), before))
        tag_list = sorted(tag for tags in repository.tags.values() for tag in tags)
        say(f"{name}: manifests {len(repository.manifests)}, blobs {len(repository.blobs)} (uploaded {uploaded}, "
            f"mounted {mounted}, already there {present}), tags {', '.join(tag_list) or '(none)'}")
    return result


def pull(remote: RemoteRegistry, repository: str, registry: Registry) -> Transfer:
    """Copy `repository` from `remote` into `registry`: tagged manifests with everything they
    reach, plus the referrers of each (when the remote has the referrers API)."""
    result = Transfer(repositories=[repository])
    done: Set[str] = set()

    def fetch(reference: str) -> str:
        body, media_type, digest = remote.manifest(repository, reference)
        if digest in done:
            return digest
        done.add(digest)
        parsed = manifests.parse(body, media_type)
        for blob in parsed.blobs:
            if manifests.is_distributable(blob) and not registry.has_blob(repository, blob.digest):
                data = remote.blob(repository, blob.digest)
                registry.push_blob(repository, data, blob.digest.split(":", 1)[0])
                result.uploaded += 1
                result.bytes += len(data)
        for child in parsed.children:
            fetch(child.digest)
        registry.push_manifest(repository, body, media_type=media_type, algorithm=digest.split(":", 1)[0])
        result.manifests += 1
        for referrer in remote.referrers(repository, digest):
            fetch(referrer["digest"])
        return digest

    for tag in remote.tags(repository):
        digest = fetch(tag)
        stored = registry.manifest(repository, digest)
        registry.push_manifest(repository, stored.body, tags=[tag], media_type=stored.media_type,
                               algorithm=digest.split(":", 1)[0])
        result.tags += 1
    return result


def _snapshot(registry: Registry) -> List[_Repository]:
    store = registry.store
    found = []
    with store.lock:
        for name in sorted(store.repositories):
            repo = store.repositories[name]
            tags: Dict[str, List[str]] = {}
            for tag in sorted(repo.tags):
                tags.setdefault(repo.tags[tag], []).append(tag)
            found.append(_Repository(name, {d: store.blobs[d] for d in sorted(repo.blobs)}, dict(repo.manifests),
                                     tags))
    return found


def _dependency_order(repository: _Repository) -> List[StoredManifest]:
    """Manifests with everything they name in this repository (children, subject) before them."""
    ordered: List[StoredManifest] = []
    seen: Set[str] = set()

    def visit(digest: str) -> None:
        stored = repository.manifests.get(digest)
        if stored is None or digest in seen:
            return
        seen.add(digest)
        parsed = stored.parsed
        for child in parsed.children:
            visit(child.digest)
        if parsed.subject is not None:
            visit(parsed.subject.digest)
        ordered.append(stored)

    for digest in repository.manifests:
        visit(digest)
    return ordered


def _check_complete(repository: _Repository) -> None:
    for digest, stored in repository.manifests.items():
        missing = [b.digest for b in stored.parsed.blobs
                   if manifests.is_distributable(b) and b.digest not in repository.blobs]
        if missing:
            raise ValueError(f"{repository.name}@{digest} refers to blob(s) this registry leaves out "
                             f"({', '.join(missing)}, e.g. `missing: true` in a scenario); another registry "
                             "would refuse the manifest")
