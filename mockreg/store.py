"""The registry's state: one content-addressed blob store, per-repository links, manifests,
tags, the referrers index and upload sessions, all behind one lock.

Nothing here knows HTTP: methods take and return plain values and raise RegistryError.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Set

from .blobdata import BlobBuilder, BlobBytes, BlobSpace
from .errors import RegistryError
from .hashpipe import HashPipeline
from .manifests import ParsedManifest, is_distributable
from .taghistory import TagHistory

# Upload ids: 128 random bits, as uuid4().hex gave, from a generator seeded once from the OS.
# os.urandom per upload was a system call costing a tenth of a small blob's whole push here.
_upload_ids = random.Random()


@dataclass
class StoredManifest:
    digest: str
    media_type: str
    body: bytes
    parsed: ParsedManifest


@dataclass
class Repository:
    name: str
    blobs: Set[str] = field(default_factory=set)
    manifests: Dict[str, StoredManifest] = field(default_factory=dict)
    tags: Dict[str, str] = field(default_factory=dict)
    # subject digest -> {referrer digest: descriptor}
    referrers: Dict[str, Dict[str, Dict[str, Any]]] = field(default_factory=dict)
    # tag -> [(timestamp, digest)], the latest moves in order, for tag-history style extensions
    tag_history: TagHistory = field(default_factory=TagHistory)


@dataclass
class UploadSession:
    """A blob upload in progress; bytes are hashed as they arrive, on a helper thread that may
    still be busy after a request is answered (see hashpipe): read the hash through `hasher`,
    which waits for it."""

    id: str
    repository: str
    algorithm: str
    pipeline: HashPipeline
    buffer: BlobBuilder
    last_chunk: int = 0  # bytes the latest PATCH brought (for chunk size rules)
    started: float = 0.0
    touched: float = 0.0
    # Set under `lock` when the upload is finished or cancelled: a request that was waiting for
    # the lock must not append to a buffer that now belongs to the blob store.
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def size(self) -> int:
        return self.buffer.size

    @property
    def hasher(self) -> Any:
        """The running hash of every byte taken so far, once the helper thread has caught up."""
        return self.pipeline.settle()


class Store:
    """All state of one registry. Two Stores never share anything."""

    def __init__(self, clock: Callable[[], float] = time.time,
                 upload_timeout: Callable[[], float] = lambda: 0,
                 space: Optional[BlobSpace] = None) -> None:
        self.clock = clock
        self.upload_timeout = upload_timeout
        # What big blobs take in memory and in temporary files, against the settings' limits.
        self.space = space if space is not None else BlobSpace()
        self.tag_history_limit: Callable[[], int] = lambda: 1000  # the Registry reads its settings
        self.lock = threading.RLock()
        self.blobs: Dict[str, BlobBytes] = {}
        self._blob_links: Dict[str, int] = {}
        self.repositories: Dict[str, Repository] = {}
        self.uploads: Dict[str, UploadSession] = {}
        self.namespaces: Set[str] = set()  # created name prefixes (`namespace_must_exist`)
        # Called as on_change(change, repository, *details) after each change, under the lock, by
        # registry.notifications (events/observer.py); None, and free, while nobody listens.
        self.on_change: Optional[Callable[..., None]] = None

    # -- repositories -------------------------------------------------------------------
    def repository(self, name: str) -> Repository:
        """The named repository; NAME_UNKNOWN when it holds nothing yet."""
        repo = self.repositories.get(name)
        if repo is None:
            raise RegistryError("NAME_UNKNOWN", {"name": name})
        return repo

    def _repository_for_write(self, name: str) -> Repository:
        repo = self.repositories.get(name)
        if repo is None:
            repo = self.repositories[name] = Repository(name)
        return repo

    def create_repository(self, name: str) -> None:
        """An empty repository, for registries where a push needs one (`repository_must_exist`)."""
        with self.lock:
            self._repository_for_change(name)

    def create_namespace(self, prefix: str) -> None:
        with self.lock:
            self.namespaces.add(prefix)

    def in_namespace(self, name: str) -> bool:
        """Whether a created namespace is `name` or a leading part of it (`team` for `team/app`)."""
        with self.lock:
            return any(name == prefix or name.startswith(prefix + "/") for prefix in self.namespaces)

    def _repository_for_change(self, name: str) -> Repository:
        """As `_repository_for_write`, telling a listener about a repository it creates."""
        if name not in self.repositories and self.on_change is not None:
            self.on_change("repository-create", name)
        return self._repository_for_write(name)

    def catalog(self) -> List[str]:
        with self.lock:
            return sorted(self.repositories)

    # -- blobs --------------------------------------------------------------------------
    def blob(self, name: str, digest: str) -> BlobBytes:
        """The bytes of a blob linked into `name` (manifests are readable as blobs too)."""
        with self.lock:
            repo = self.repositories.get(name)
            if repo is not None:
                if digest in repo.blobs:
                    return self.blobs[digest]
                manifest = repo.manifests.get(digest)
                if manifest is not None:
                    return manifest.body
        raise RegistryError("BLOB_UNKNOWN", {"digest": digest})

    def add_blob(self, name: str, digest: str, data: BlobBytes) -> None:
        """Link verified bytes into a repository; identical content is kept only once."""
        with self.lock:
            self.blobs.setdefault(digest, data)
            self._link(self._repository_for_change(name), digest)
            if self.on_change is not None:
                self.on_change("blob-push", name, digest, len(data))

    def _link(self, repo: Repository, digest: str) -> None:
        if digest not in repo.blobs:
            repo.blobs.add(digest)
            self._blob_links[digest] = self._blob_links.get(digest, 0) + 1

    def mount(self, name: str, digest: str, source: Optional[str]) -> bool:
        """Link a blob from `source` (or from anywhere, when source is None); False if not found."""
        with self.lock:
            if source is None:
                if digest not in self.blobs:
                    return False
            else:
                origin = self.repositories.get(source)
                if origin is None or digest not in origin.blobs:
                    return False
            self._link(self._repository_for_change(name), digest)
            if self.on_change is not None:
                self.on_change("blob-mount", name, digest, len(self.blobs[digest]), source)
            return True

    def delete_blob(self, name: str, digest: str) -> None:
        with self.lock:
            repo = self.repositories.get(name)
            if repo is None or digest not in repo.blobs:
                raise RegistryError("BLOB_UNKNOWN", {"digest": digest})
            repo.blobs.discard(digest)
            remaining = self._blob_links[digest] - 1
            if remaining:
                self._blob_links[digest] = remaining
            else:
                del self._blob_links[digest]
                del self.blobs[digest]
            if self.on_change is not None:
                self.on_change("blob-delete", name, digest)

    # -- manifests and tags -------------------------------------------------------------
    def put_manifest(
        self, name: str, manifest: StoredManifest, tags: List[str], allow_sparse: bool
    ) -> None:
        """Store a manifest and point `tags` at it, after checking everything it references."""
        with self.lock:
            repo = self.repositories.get(name)
            if not allow_sparse:
                self._check_references(repo, manifest.parsed)
            repo = self._repository_for_change(name)
            previous = repo.manifests.get(manifest.digest)
            if previous is None or previous.body != manifest.body:
                repo.manifests[manifest.digest] = manifest
            subject = manifest.parsed.subject
            if subject is not None:
                descriptor = manifest.parsed.referrer_descriptor(manifest.digest, len(manifest.body))
                repo.referrers.setdefault(subject.digest, {})[manifest.digest] = descriptor
            for tag in tags:
                self._tag(repo, tag, manifest.digest)
            if self.on_change is not None:
                self.on_change("manifest-push", name, manifest, tags)

    def _check_references(self, repo: Optional[Repository], parsed: ParsedManifest) -> None:
        missing = []
        for descriptor in parsed.blobs:
            known = repo is not None and (
                descriptor.digest in repo.blobs or descriptor.digest in repo.manifests
            )
            if not known and is_distributable(descriptor):
                missing.append(descriptor.digest)
            elif known and repo is not None and descriptor.digest in repo.blobs \
                    and len(self.blobs[descriptor.digest]) != descriptor.size:
                raise RegistryError(
                    "MANIFEST_INVALID",
                    f"descriptor size {descriptor.size} differs from blob {descriptor.digest} "
                    f"of {len(self.blobs[descriptor.digest])} bytes",
                )
        for descriptor in parsed.children:
            child = repo.manifests.get(descriptor.digest) if repo is not None else None
            if child is None:
                missing.append(descriptor.digest)
            elif len(child.body) != descriptor.size:
                raise RegistryError(
                    "MANIFEST_INVALID",
                    f"descriptor size {descriptor.size} differs from manifest {descriptor.digest} "
                    f"of {len(child.body)} bytes",
                )
        if missing:
            raise RegistryError("MANIFEST_BLOB_UNKNOWN", {"missing": missing})

    def _tag(self, repo: Repository, tag: str, digest: str) -> None:
        if repo.tags.get(tag) != digest:
            repo.tags[tag] = digest
            repo.tag_history.record(tag, self.clock(), digest, self.tag_history_limit())

    def resolve(self, name: str, reference: str) -> StoredManifest:
        """The manifest a tag or digest names in a repository, or MANIFEST_UNKNOWN."""
        with self.lock:
            repo = self.repositories.get(name)
            if repo is not None:
                digest = repo.tags.get(reference, reference)
                manifest = repo.manifests.get(digest)
                if manifest is not None:
                    return manifest
        raise RegistryError("MANIFEST_UNKNOWN", {"name": name, "reference": reference})

    def delete_manifest(self, name: str, digest: str) -> None:
        """Remove a manifest, every tag on it and its entry in the referrers index."""
        with self.lock:
            repo = self.repositories.get(name)
            if repo is None:
                raise RegistryError("NAME_UNKNOWN", {"name": name})
            manifest = repo.manifests.pop(digest, None)
            if manifest is None:
                raise RegistryError("MANIFEST_UNKNOWN", {"name": name, "reference": digest})
            removed = [t for t, d in repo.tags.items() if d == digest]
            for tag in removed:
                del repo.tags[tag]
                repo.tag_history.record(tag, self.clock(), "", self.tag_history_limit())
            subject = manifest.parsed.subject
            if subject is not None:
                entries = repo.referrers.get(subject.digest, {})
                entries.pop(digest, None)
                if not entries:
                    repo.referrers.pop(subject.digest, None)
            if self.on_change is not None:
                self.on_change("manifest-delete", name, manifest, removed)

    def delete_tag(self, name: str, tag: str) -> None:
        with self.lock:
            repo = self.repository(name)
            if tag not in repo.tags:
                raise RegistryError("MANIFEST_UNKNOWN", {"name": name, "reference": tag})
            digest = repo.tags.pop(tag)
            repo.tag_history.record(tag, self.clock(), "", self.tag_history_limit())
            if self.on_change is not None:
                self.on_change("tag-delete", name, tag, repo.manifests.get(digest))

    def tags_in_order(self, name: str) -> List[str]:
        """Tags of `name` in the order they were first made."""
        with self.lock:
            return list(self.repository(name).tags)

    def tags(self, name: str) -> List[str]:
        with self.lock:
            return sorted(self.repository(name).tags)

    def referrers(self, name: str, subject: str) -> List[Dict[str, Any]]:
        """Descriptors of manifests in `name` whose subject is `subject`, oldest digest first."""
        with self.lock:
            repo = self.repositories.get(name)
            if repo is None:
                return []
            entries = repo.referrers.get(subject, {})
            return [_copy_descriptor(entries[d]) for d in sorted(entries)]

    # -- uploads ------------------------------------------------------------------------
    def start_upload(self, name: str, algorithm: str, hasher: Any, limit: int = 0) -> UploadSession:
        """Open an upload; 429 TOOMANYREQUESTS when `limit` (0: none) uploads are open already.

        Expired uploads are dropped here first, so abandoned ones free their memory even if no
        client ever asks for them again.
        """
        now = self.clock()
        session = UploadSession(f"{_upload_ids.getrandbits(128):032x}", name, algorithm, HashPipeline(hasher),
                                self.new_blob(),
                                started=now, touched=now)
        with self.lock:
            self._drop_expired(now)
            if limit and len(self.uploads) >= limit:
                raise RegistryError("TOOMANYREQUESTS", f"{limit} uploads are open; finish or cancel one first",
                                    headers=[("Retry-After", "1")])
            self.uploads[session.id] = session
        return session

    def new_blob(self) -> BlobBuilder:
        """An empty blob to append an upload's bytes to, counted against this store's limits."""
        return BlobBuilder(self.space)

    def _drop_expired(self, now: float) -> None:
        timeout = self.upload_timeout()
        if timeout:
            # A session whose lock is held is taking a chunk right now: it is not idle.
            for idle in [s for s in self.uploads.values() if now - s.touched > timeout and not s.lock.locked()]:
                del self.uploads[idle.id]

    def upload(self, name: str, session_id: str) -> UploadSession:
        """An upload in progress in repository `name`; BLOB_UPLOAD_UNKNOWN otherwise."""
        with self.lock:
            session = self.uploads.get(session_id)
        if session is None or session.repository != name or session.closed:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"uuid": session_id})
        timeout = self.upload_timeout()
        if timeout and self.clock() - session.touched > timeout:
            with self.lock:  # an idle upload is lost, as registries garbage-collect them
                self.uploads.pop(session_id, None)
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"uuid": session_id, "reason": "upload session expired"})
        return session

    def locked_upload(self, name: str, session_id: str) -> HeldUpload:
        """Hold an upload's own lock, so chunks of one session apply one at a time while other
        sessions and the rest of the store stay available."""
        return HeldUpload(self.upload(name, session_id))

    @staticmethod
    def locked(session: UploadSession) -> HeldUpload:
        """Hold the lock of an upload found with `upload`; BLOB_UPLOAD_UNKNOWN if it ended meanwhile."""
        return HeldUpload(session)

    def end_upload(self, session: UploadSession) -> None:
        """Forget a finished or cancelled upload; call it holding `session.lock`."""
        session.closed = True
        with self.lock:
            self.uploads.pop(session.id, None)

    def absorb(self, staged: Store) -> None:
        """Take over everything a staging store holds, in one step under the lock.

        Loaders (scenario files, image layouts) fill a private Store first so that a failure
        leaves this one untouched; only a complete load is absorbed.
        """
        with self.lock, staged.lock:
            self.namespaces |= staged.namespaces
            for digest, data in staged.blobs.items():
                self.blobs.setdefault(digest, data)
            for name, incoming in staged.repositories.items():
                repo = self._repository_for_write(name)
                for digest in incoming.blobs:
                    self._link(repo, digest)
                repo.manifests.update(incoming.manifests)
                for subject, entries in incoming.referrers.items():
                    repo.referrers.setdefault(subject, {}).update(entries)
                for tag, digest in incoming.tags.items():
                    self._tag(repo, tag, digest)


class HeldUpload:
    """`with HeldUpload(session) as session:` holds the upload's lock; BLOB_UPLOAD_UNKNOWN if it
    was finished or cancelled meanwhile. A class rather than a @contextmanager generator: every
    closing PUT of a push goes through it, and the generator cost a microsecond more."""

    __slots__ = ("session",)

    def __init__(self, session: UploadSession) -> None:
        self.session = session

    def __enter__(self) -> UploadSession:
        session = self.session
        session.lock.acquire()
        if session.closed:
            session.lock.release()
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"uuid": session.id})
        return session

    def __exit__(self, *exc_info: Any) -> None:
        self.session.lock.release()


def _copy_descriptor(descriptor: Dict[str, Any]) -> Dict[str, Any]:
    """A copy callers may change without touching the index (annotations are the one nested map)."""
    copy = dict(descriptor)
    if "annotations" in copy:
        copy["annotations"] = dict(copy["annotations"])
    return copy
