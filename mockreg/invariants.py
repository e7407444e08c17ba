"""`check_invariants`: whether a registry's state is whole, for tests that hammer it.

A registry that answered every request correctly must still be consistent afterwards: tags point
at stored manifests, manifests at stored content, the referrers index agrees with the manifests
that have a `subject`, no upload session is left behind, and no blob's bytes differ from their
digest. Call it after a concurrent or fuzzed run (mockreg's own stress and fuzz tests do)::

    from mockreg import Registry
    from mockreg.invariants import check_invariants

    registry = Registry()
    registry.push_blob("demo/app", b"hello")
    assert check_invariants(registry) == []

Each problem is one line of text naming the repository and digest, so a failing assertion
tells what broke. The check holds the store's lock while it runs and hashes every blob once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Optional

from . import digest as digests
from . import reference
from .manifests import is_distributable
from .store import Repository, Store

if TYPE_CHECKING:
    from .registry import Registry

__all__ = ["check_invariants"]


def check_invariants(registry: Registry, *, sparse: Optional[bool] = None,
                     open_uploads: bool = True) -> List[str]:
    """Every way the registry's state is inconsistent, one line each; [] when it is whole.

    Checked: each tag names a stored manifest and its tag history ends there; each manifest's
    digest is that of its bytes and every blob and child manifest it references is in its
    repository (non-distributable layers exempt; nothing at all when `sparse`, which defaults
    to the registry's `sparse_manifests` setting); the referrers index lists exactly the
    manifests whose `subject` names each digest, with their current descriptors; each linked
    blob is stored, each stored blob is linked (the link counts agree) and its bytes match its
    digest; each open upload is unfinished, within `max_upload_size`, its running hash agrees
    with its bytes, and at most `max_upload_sessions` are open. With `open_uploads=False` any open upload is a leak, as
    after a run whose clients finished or cancelled everything they started.

    A blob deleted while a manifest still names it is reported: real registries allow that
    delete, so pass `sparse=True` when a test means to leave such references behind. Uploads
    idle past `upload_timeout` are not reported: the registry drops them lazily, when they are
    next asked for or the next upload starts.
    """
    settings = registry.settings
    allow_dangling = settings.sparse_manifests if sparse is None else sparse
    store = registry.store
    problems: List[str] = []
    with store.lock:
        links: Dict[str, int] = {}
        for name, repo in store.repositories.items():
            if not reference.is_valid_name(name) or repo.name != name:
                problems.append(f"repository {name!r}: invalid or mislabelled name ({repo.name!r})")
            for digest in repo.blobs:
                links[digest] = links.get(digest, 0) + 1
                if digest not in store.blobs:
                    problems.append(f"{name}: blob {digest} is linked but not stored")
            _check_tags(name, repo, problems)
            _check_manifests(name, repo, store, allow_dangling, problems)
            _check_referrers(name, repo, problems)
        _check_blobs(store, links, problems)
        _check_uploads(registry, store, open_uploads, problems)
    return problems


def _check_tags(name: str, repo: Repository, problems: List[str]) -> None:
    for tag, digest in repo.tags.items():
        if not reference.is_valid_tag(tag):
            problems.append(f"{name}: tag {tag!r} breaks the tag grammar")
        if digest not in repo.manifests:
            problems.append(f"{name}:{tag} points at {digest}, which is not a stored manifest")
        history = repo.tag_history.get(tag)
        if not history or history[-1][1] != digest:
            problems.append(f"{name}:{tag}: tag history does not end at {digest}")


def _check_manifests(name: str, repo: Repository, store: Store, allow_dangling: bool,
                     problems: List[str]) -> None:
    for digest, manifest in repo.manifests.items():
        if manifest.digest != digest:
            problems.append(f"{name}: manifest stored under {digest} says it is {manifest.digest}")
        algorithm = digest.split(":", 1)[0]
        if algorithm not in digests.supported_algorithms() or digests.of(manifest.body, algorithm) != digest:
            problems.append(f"{name}: manifest {digest} has bytes of another digest")
        if manifest.media_type != manifest.parsed.media_type:
            problems.append(f"{name}: manifest {digest} is served as {manifest.media_type} "
                            f"but parsed as {manifest.parsed.media_type}")
        if allow_dangling:
            continue
        for blob in manifest.parsed.blobs:
            if blob.digest in repo.blobs:
                if len(store.blobs.get(blob.digest, b"")) != blob.size:
                    problems.append(f"{name}: manifest {digest} says blob {blob.digest} has {blob.size} bytes")
            elif blob.digest not in repo.manifests and is_distributable(blob):
                problems.append(f"{name}: manifest {digest} references blob {blob.digest}, which is missing")
        for child in manifest.parsed.children:
            if child.digest not in repo.manifests:
                problems.append(f"{name}: index {digest} references manifest {child.digest}, which is missing")


def _check_referrers(name: str, repo: Repository, problems: List[str]) -> None:
    expected: Dict[str, Dict[str, object]] = {}
    for digest, manifest in repo.manifests.items():
        declared = manifest.parsed.subject
        if declared is not None:
            expected.setdefault(declared.digest, {})[digest] = \
                manifest.parsed.referrer_descriptor(digest, len(manifest.body))
    for subject in sorted(set(expected) | set(repo.referrers)):
        indexed = repo.referrers.get(subject)
        if indexed is not None and not indexed:
            problems.append(f"{name}: referrers index keeps an empty entry for {subject}")
        if (indexed or {}) != expected.get(subject, {}):
            listed, wanted = sorted(indexed or {}), sorted(expected.get(subject, {}))
            problems.append(f"{name}: referrers of {subject} are indexed as {listed} but the manifests say {wanted}")


def _check_blobs(store: Store, links: Dict[str, int], problems: List[str]) -> None:
    counted = getattr(store, "_blob_links", None)
    if counted is not None and counted != links:
        differ = sorted(d for d in set(counted) | set(links) if counted.get(d) != links.get(d))
        problems.append(f"blob link counts disagree with the repositories for {differ}")
    for digest, data in store.blobs.items():
        if digest not in links:
            problems.append(f"blob {digest} is stored but no repository links it")
        algorithm = digest.split(":", 1)[0]
        if algorithm not in digests.supported_algorithms() or digests.of(data, algorithm) != digest:
            problems.append(f"blob {digest} holds bytes of another digest")


def _check_uploads(registry: Registry, store: Store, open_uploads: bool, problems: List[str]) -> None:
    settings = registry.settings
    if settings.max_upload_sessions and len(store.uploads) > settings.max_upload_sessions:
        problems.append(f"{len(store.uploads)} uploads are open, over max_upload_sessions "
                        f"{settings.max_upload_sessions}")
    for upload_id, session in store.uploads.items():
        where = f"upload {upload_id} in {session.repository}"
        if not open_uploads:
            problems.append(f"{where} was left open ({session.size} bytes)")
        if session.id != upload_id:
            problems.append(f"{where} is stored under another id ({session.id})")
        if session.closed:
            problems.append(f"{where} is finished but still held")
        if settings.max_upload_size and session.size > settings.max_upload_size:
            problems.append(f"{where} holds {session.size} bytes, over max_upload_size")
        if session.lock.acquire(blocking=False):  # a session taking a chunk right now is mid-way
            try:
                if f"{session.algorithm}:{session.hasher.hexdigest()}" != digests.of(session.buffer,
                                                                                    session.algorithm):
                    problems.append(f"{where}: its running hash does not match its {session.size} bytes")
            finally:
                session.lock.release()
