"""What a recording session saw: the exchanges, and the content the upstream held before it.

The scenario written at the end reproduces the upstream's state *before* the client's
operations, so that replaying the same operations meets the same answers: a blob the client
pushed must be missing again at replay time (or its HEAD would answer 200 where it answered
404). So each manifest and blob is classed by the first thing that happened to it: read from
the upstream (it existed before) or pushed by the client (listed under `recorded.pushed`, not
loaded). Blob bytes go straight to files in a scratch directory while they stream by: never
held in memory.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

from .. import digest as digests

UPSTREAM, CLIENT = "upstream", "client"


@dataclass
class Exchange:
    """One request the client made and what the upstream answered, without any secret."""

    seq: int
    method: str
    path: str
    kind: Optional[str]
    status: int
    repository: Optional[str] = None
    args: Dict[str, str] = field(default_factory=dict)  # only mount, from, digest, n, last, service, scope
    code: Optional[str] = None
    message: Optional[str] = None
    headers: Dict[str, str] = field(default_factory=dict)  # the headers that matter, realm replaced
    text: Optional[str] = None  # a short plain-text error body ("404 page not found"), when it holds no secret

    @property
    def label(self) -> str:
        """`GET /v2/demo/app/referrers/sha256:… → 404 (exchange 7)`, for `from:` fields."""
        query = "&".join(f"{k}={v}" for k, v in self.args.items() if k in ("mount", "from", "digest", "n", "last"))
        code = f" {self.code}" if self.code else ""
        return f"{self.method} {self.path}{'?' + query if query else ''} → {self.status}{code} (exchange {self.seq})"

    def to_dict(self) -> Dict[str, Any]:
        found: Dict[str, Any] = {"seq": self.seq, "method": self.method, "path": self.path}
        if self.args:
            found["args"] = dict(self.args)
        found["kind"] = self.kind
        found["status"] = self.status
        if self.code:
            found["code"] = self.code
        if self.headers:
            found["headers"] = dict(self.headers)
        return found


@dataclass
class StoredManifest:
    body: bytes
    media_type: str


class BlobSink:
    """Bytes of one blob streaming by, written to a scratch file and hashed on the way."""

    def __init__(self, recording: Recording, repository: str, digest: str) -> None:
        self._recording, self._repository, self._digest = recording, repository, digest
        algorithm = digest.split(":", 1)[0]
        self._hasher = hashlib.new(algorithm if algorithm in ("sha256", "sha512") else "sha256")
        handle, self._path = tempfile.mkstemp(dir=recording.scratch, prefix="blob-")
        self._file = os.fdopen(handle, "wb")

    def write(self, data: bytes) -> None:
        self._hasher.update(data)
        self._file.write(data)

    def finish(self) -> None:
        """Keep the bytes when they are the blob named (a cut-off download is dropped)."""
        self._file.close()
        actual = f"{self._digest.split(':', 1)[0]}:{self._hasher.hexdigest()}"
        if actual == self._digest:
            self._recording.blob_bytes(self._repository, self._digest, Path(self._path))
        else:
            self.abort()

    def abort(self) -> None:
        self._file.close()
        Path(self._path).unlink(missing_ok=True)


class Recording:
    """Thread-safe: the proxy's connection threads and the backfill thread all report here."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.scratch = tempfile.mkdtemp(prefix="mockreg-record-")
        self.exchanges: List[Exchange] = []
        self.origins: Dict[Tuple[str, str], str] = {}  # (repository, digest) -> UPSTREAM | CLIENT
        self.manifests: Dict[str, StoredManifest] = {}  # digest -> bytes, upstream's only
        self.blob_files: Dict[str, Path] = {}  # digest -> scratch file, upstream's only
        self.tags: Dict[Tuple[str, str], str] = {}  # (repository, tag) -> digest, upstream's only
        self.pushed_tags: Set[Tuple[str, str]] = set()
        self.listed_tags: Dict[str, Set[str]] = {}
        self.realms: Dict[str, str] = {}  # upstream realm -> how the client was told to reach it
        self.users: Set[str] = set()  # user names the client logged in as (never passwords)
        self.anonymous_tokens: List[str] = []  # labels of token requests granted without credentials
        self.problems: List[str] = []
        self.own_challenge: Optional[str] = None  # set when the recorder's own credentials answered one
        self.token_ttl: Optional[Tuple[int, str]] = None  # expires_in of the first token answer, and its label
        self._lock = threading.Lock()

    # -- exchanges ---------------------------------------------------------------------------
    def add_exchange(self, **fields: Any) -> Exchange:
        with self._lock:
            exchange = Exchange(seq=len(self.exchanges) + 1, **fields)
            self.exchanges.append(exchange)
            return exchange

    def problem(self, text: str) -> None:
        with self._lock:
            if text not in self.problems:
                self.problems.append(text)

    # -- content -----------------------------------------------------------------------------
    def _first(self, repository: str, digest: str, origin: str) -> str:
        """The origin of (repository, digest): the first one reported wins."""
        with self._lock:
            return self.origins.setdefault((repository, digest), origin)

    def pushed(self, repository: str, digest: str, tag: Optional[str] = None) -> None:
        self._first(repository, digest, CLIENT)
        if tag is not None:
            with self._lock:
                self.pushed_tags.add((repository, tag))

    def read(self, repository: str, digest: str) -> bool:
        """The upstream showed it holds this; True when it existed before the client's pushes."""
        return self._first(repository, digest, UPSTREAM) == UPSTREAM

    def manifest(self, repository: str, reference: str, body: bytes, media_type: str,
                 named: Optional[str] = None) -> Optional[str]:
        """A manifest the upstream sent (`named`: its Docker-Content-Digest); returns its digest."""
        if digests.looks_like_digest(reference):
            digest = reference
        elif named and digests.looks_like_digest(named):
            digest = named
        else:
            digest = digests.of(body)
        try:
            if digests.of(body, digest.split(":", 1)[0]) != digest:
                if digest != reference:  # a wrong Docker-Content-Digest: the body names itself
                    digest = digests.of(body)
                else:
                    return None  # a damaged answer is not content
        except ValueError:
            return None
        if self.read(repository, digest):
            with self._lock:
                self.manifests.setdefault(digest, StoredManifest(bytes(body), media_type))
        if not digests.looks_like_digest(reference):
            self.tag(repository, reference, digest)
        return digest

    def tag(self, repository: str, tag: str, digest: str) -> None:
        with self._lock:
            if (repository, tag) not in self.pushed_tags:
                self.tags.setdefault((repository, tag), digest)

    def listed(self, repository: str, tags: List[str]) -> None:
        """Tags a tag list named (their manifests may or may not get recorded)."""
        with self._lock:
            self.listed_tags.setdefault(repository, set()).update(tags)

    def blob_bytes(self, repository: str, digest: str, path: Path) -> None:
        if not self.read(repository, digest):
            path.unlink(missing_ok=True)
            return
        with self._lock:
            if digest in self.blob_files:
                path.unlink(missing_ok=True)
            else:
                self.blob_files[digest] = path

    def has_content(self, digest: str) -> bool:
        with self._lock:
            return digest in self.manifests or digest in self.blob_files

    def upstream_content(self) -> Dict[str, Set[str]]:
        """repository -> digests it held before the client pushed anything."""
        result: Dict[str, Set[str]] = {}
        with self._lock:
            for (repository, digest), origin in self.origins.items():
                if origin == UPSTREAM:
                    result.setdefault(repository, set()).add(digest)
        return result

    def client_content(self) -> Dict[str, List[str]]:
        result: Dict[str, List[str]] = {}
        with self._lock:
            for (repository, digest), origin in sorted(self.origins.items()):
                if origin == CLIENT:
                    result.setdefault(repository, []).append(digest)
        return result
