"""The request journal: every request a registry answers, kept in a bounded log, and questions
about it asked in registry terms (what was pushed or pulled, how a blob arrived).

Recording happens on every request, so it stores references to what already exists (the route
match, the response's header list) and leaves parsing to the moment a test asks.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple
from urllib.parse import parse_qs

from .digest import looks_like_digest
from .http import Request, Response
from .layers import Layer
from .reference import referrers_tag
from .routes import Match

if TYPE_CHECKING:
    from .checks import ClientChecks, Violation

DEFAULT_MAXLEN = 10_000

# Request headers worth keeping: what a test asks about (content negotiation, ranges, auth).
RECORDED_REQUEST_HEADERS = ("Content-Type", "Accept", "Range", "Content-Range", "Authorization")
_ENVIRON_KEYS = tuple(
    (name, name.upper().replace("-", "_") if name == "Content-Type" else "HTTP_" + name.upper().replace("-", "_"))
    for name in RECORDED_REQUEST_HEADERS)
_NO_PARAMS: Dict[str, str] = {}
_COUNTER_KEY = "mockreg.journal.input"

# How a blob reached a repository (see `BlobUpload.how`).
SINGLE_POST = "single-post"
POST_PUT = "post-put"
CHUNKED = "chunked"
MOUNT = "mount"


class Entry:
    """One request and its response. Fields are raw; properties interpret them on demand."""

    __slots__ = ("seq", "time", "method", "path", "query", "kind", "params", "status",
                 "request_headers", "response_headers", "request_bytes", "_body_size", "_args")

    def __init__(self, seq: int, time: float, method: str, path: str, query: str, kind: Optional[str],
                 params: Dict[str, str], status: int, request_headers: Dict[str, str],
                 response_headers: List[Tuple[str, str]], request_bytes: int, body_size: Optional[int]) -> None:
        self.seq = seq
        self.time = time
        self.method = method
        self.path = path
        self.query = query
        self.kind = kind  # the route kind, e.g. "manifest-put"; None when no route matched
        self.params = params
        self.status = status
        self.request_headers = request_headers
        self.response_headers = response_headers
        self.request_bytes = request_bytes
        self._body_size = body_size
        self._args: Optional[Dict[str, List[str]]] = None

    @property
    def args(self) -> Dict[str, List[str]]:
        """The query string, parsed."""
        if self._args is None:
            self._args = parse_qs(self.query, keep_blank_values=True)
        return self._args

    def arg(self, name: str) -> Optional[str]:
        values = self.args.get(name)
        return values[0] if values else None

    def header(self, name: str) -> Optional[str]:
        """A response header (the first one of that name)."""
        wanted = name.lower()
        for key, value in self.response_headers:
            if key.lower() == wanted:
                return value
        return None

    def headers(self, name: str) -> List[str]:
        """Every response header of that name, e.g. all `OCI-Tag` values."""
        wanted = name.lower()
        return [value for key, value in self.response_headers if key.lower() == wanted]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def repository(self) -> Optional[str]:
        return self.params.get("name")

    @property
    def reference(self) -> Optional[str]:
        """The tag or digest in a manifest path."""
        return self.params.get("reference_")

    @property
    def tag(self) -> Optional[str]:
        reference = self.reference
        return reference if reference is not None and not looks_like_digest(reference) else None

    @property
    def digest(self) -> Optional[str]:
        """The digest this request concerned: in the path, the query (`digest`, `mount`) or, for a
        manifest pushed or pulled by tag, the registry's `Docker-Content-Digest` answer."""
        params = self.params
        if "digest" in params:
            return params["digest"]
        reference = params.get("reference_")
        if reference is not None and looks_like_digest(reference):
            return reference
        found = self.arg("digest") or self.arg("mount") or self.header("Docker-Content-Digest")
        if found is None:  # a registry without digest headers still names the digest in Location
            tail = (self.header("Location") or "").rsplit("/", 1)[-1]
            found = tail if looks_like_digest(tail) else None
        return found

    @property
    def response_bytes(self) -> Optional[int]:
        """Bytes of response body sent (0 for HEAD); None when the length was not known."""
        if self.method == "HEAD":
            return 0
        if self._body_size is not None:
            return self._body_size
        length = self.header("Content-Length")
        return int(length) if length is not None and length.isdigit() else None

    def __str__(self) -> str:
        query = f"?{self.query}" if self.query else ""
        return f"{self.method} {self.path}{query} -> {self.status} ({self.kind or 'unrouted'})"

    def __repr__(self) -> str:
        return f"<Entry #{self.seq} {self}>"


@dataclass
class BlobUpload:
    """How one blob arrived: `how` is "single-post" (POST with the body), "post-put" (POST, then
    one PUT with the body), "chunked" (PATCHes, then PUT) or "mount" (cross-repository mount)."""

    repository: str
    digest: str
    how: str
    chunks: int = 0
    entries: List[Entry] = field(default_factory=list, repr=False)


class _CountingInput:
    """wsgi.input for a body of unknown length, counting the bytes the registry reads."""

    __slots__ = ("_stream", "count")

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.count += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self._stream.readline(size)
        self.count += len(data)
        return data


class Journal(Layer):
    """Records each request in a bounded deque (oldest entries fall off after `maxlen`).

    It must be the first of `registry.layers` so that it sees the final response; `attach`
    puts it there.
    """

    def __init__(self, maxlen: int = DEFAULT_MAXLEN) -> None:
        if maxlen <= 0:
            raise ValueError(f"the journal needs room for at least one entry, got maxlen={maxlen}")
        self._entries: Deque[Entry] = deque(maxlen=maxlen)
        self._seq = itertools.count(1)
        self.checks: Optional[ClientChecks] = None  # client checks, when on (see `check_clients`)

    @property
    def maxlen(self) -> int:
        return self._entries.maxlen  # type: ignore[return-value]

    # -- recording (the per-request path: keep it cheap) ------------------------------------
    def before(self, registry: Any, request: Request, match: Optional[Match]) -> Optional[Response]:
        environ = request.environ
        if not environ.get("CONTENT_LENGTH") and (
                environ.get("wsgi.input_terminated") or "HTTP_TRANSFER_ENCODING" in environ):
            counter = environ[_COUNTER_KEY] = _CountingInput(environ["wsgi.input"])
            environ["wsgi.input"] = counter
        if self.checks is not None:
            self.checks.capture(request, match.kind if match is not None else None)
        return None

    def after(self, registry: Any, request: Request, match: Optional[Match], response: Response) -> Response:
        environ = request.environ
        length = environ.get("CONTENT_LENGTH")
        if length:
            request_bytes = int(length) if length.isdigit() else 0
        else:
            counter = environ.get(_COUNTER_KEY)
            request_bytes = counter.count if counter is not None else 0
        body = response.body
        entry = Entry(
            next(self._seq), registry.clock.now(), request.method, request.path, environ.get("QUERY_STRING", ""),
            match.kind if match is not None else None, match.params if match is not None else _NO_PARAMS,
            response.status, {name: environ[key] for name, key in _ENVIRON_KEYS if key in environ},
            response.headers, request_bytes, len(body) if isinstance(body, bytes) else None)
        self._entries.append(entry)
        if self.checks is not None:
            self.checks.observe(entry, request, response)
        return response

    # -- reading ----------------------------------------------------------------------------
    @property
    def entries(self) -> List[Entry]:
        """A snapshot of the recorded entries, oldest first."""
        return list(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def dropped(self) -> int:
        """How many older entries fell off the end of the bounded log."""
        entries = self._entries
        return entries[0].seq - 1 if entries else 0

    def clear(self) -> None:
        self._entries.clear()
        if self.checks is not None:
            self.checks.clear()

    def filter(self, kind: Optional[str] = None, *, repository: Optional[str] = None,
               method: Optional[str] = None, status: Optional[int] = None,
               where: Optional[Callable[[Entry], bool]] = None) -> List[Entry]:
        """Entries matching every given criterion, e.g. `filter("blob-upload-patch", repository="a")`."""
        return [e for e in self._entries.copy()
                if (kind is None or e.kind == kind) and (repository is None or e.repository == repository)
                and (method is None or e.method == method.upper()) and (status is None or e.status == status)
                and (where is None or where(e))]

    def count(self, kind: Optional[str] = None, **criteria: Any) -> int:
        return len(self.filter(kind, **criteria))

    # -- questions in registry terms --------------------------------------------------------
    def pushed_tags(self, repository: Optional[str] = None) -> List[str]:
        """Tags that manifest pushes set, as "repo:tag", in push order (`?tag=` ones included)."""
        found: List[str] = []
        for entry in self.filter("manifest-put", repository=repository, where=_ok):
            tags = entry.headers("OCI-Tag") or ([entry.tag] if entry.tag else [])
            found.extend(f"{entry.repository}:{tag}" for tag in tags)
        return found

    def pushed_manifests(self, repository: Optional[str] = None) -> List[str]:
        """Manifests pushed, as "repo@digest"."""
        return [f"{e.repository}@{e.digest}" for e in self.filter("manifest-put", repository=repository, where=_ok)]

    def pushed_blobs(self, repository: Optional[str] = None) -> List[str]:
        """Blobs that arrived in a repository (by any upload method or mount), as "repo@digest"."""
        return [f"{u.repository}@{u.digest}" for u in self.blob_uploads(repository)]

    def pulled_tags(self, repository: Optional[str] = None) -> List[str]:
        """Tags whose manifest was fetched with GET, as "repo:tag"."""
        return [f"{e.repository}:{e.tag}" for e in self._manifest_gets(repository) if e.tag]

    def pulled_manifests(self, repository: Optional[str] = None) -> List[str]:
        """Manifests fetched with GET (by tag or digest), as "repo@digest"."""
        return [f"{e.repository}@{e.digest}" for e in self._manifest_gets(repository) if e.digest]

    def pulled_blobs(self, repository: Optional[str] = None) -> List[str]:
        """Blobs fetched with GET (whole or a range), as "repo@digest"."""
        return [f"{e.repository}@{e.digest}" for e in self.filter("blob-get", repository=repository, method="GET")
                if e.status in (200, 206)]

    def _manifest_gets(self, repository: Optional[str]) -> List[Entry]:
        return self.filter("manifest-get", repository=repository, method="GET", status=200)

    def blob_uploads(self, repository: Optional[str] = None) -> List[BlobUpload]:
        """Every completed blob upload or mount, in order, with the requests that made it."""
        sessions: Dict[str, List[Entry]] = {}
        uploads: List[BlobUpload] = []
        for entry in self.filter(repository=repository):
            kind = entry.kind
            if kind == "blob-upload-start" and entry.status == 201:
                how = MOUNT if entry.arg("mount") is not None else SINGLE_POST
                uploads.append(BlobUpload(entry.repository or "", entry.digest or "", how, 0, [entry]))
            elif kind == "blob-upload-start" and entry.status == 202:
                location = entry.header("Location") or ""
                sessions[location.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]] = [entry]
            elif kind in ("blob-upload-patch", "blob-upload-put"):
                session = entry.params.get("session_id", "").split("&", 1)[0]
                steps = sessions.setdefault(session, [])
                steps.append(entry)
                if kind == "blob-upload-put" and entry.status == 201:
                    del sessions[session]
                    chunks = sum(1 for e in steps if e.kind == "blob-upload-patch" and e.ok)
                    uploads.append(BlobUpload(entry.repository or "", entry.digest or "",
                                              CHUNKED if chunks else POST_PUT, chunks, steps))
        return uploads

    def blob_upload(self, repository: str, digest: str) -> Optional[BlobUpload]:
        """The last completed upload of `digest` into `repository`, or None."""
        matching = [u for u in self.blob_uploads(repository) if u.digest == digest]
        return matching[-1] if matching else None

    def referrers_tag_written(self, repository: str, subject: str) -> bool:
        """Whether a client maintained the referrers tag schema (`sha256-<hex>` tag) for `subject`."""
        return f"{repository}:{referrers_tag(subject)}" in self.pushed_tags(repository)

    # -- client checks (docs/client-checks.md) --------------------------------------------------
    def check_clients(self, rules: Optional[Iterable[str]] = None, ignore: Iterable[str] = (),
                      on_violation: Optional[Callable[[Violation], None]] = None) -> ClientChecks:
        """Grade clients against the client rules from now on (all rules, or those named by id)."""
        from .checks import ClientChecks  # loaded only by those who ask for checks
        self.checks = ClientChecks(rules, ignore, on_violation)
        return self.checks

    def violations(self, level: str = "INTEROP") -> List[Violation]:
        """Client rules broken so far at `level` ("MUST", "SHOULD" or "INTEROP") and stricter."""
        if self.checks is None:
            raise RuntimeError("client checks are off: call journal.check_clients() first, or use the pytest "
                               "option mockreg_client_checks (docs/client-checks.md)")
        return self.checks.violations(level)

    def assert_client_compliant(self, level: str = "MUST") -> None:
        """Fail, naming each rule, its requests and its spec sentence, if a client broke a rule at `level`."""
        violations = self.violations(level)
        if violations and self.checks is not None:
            raise AssertionError(f"the client broke the registry's client rules at level {level}:\n"
                                 + self.checks.report(level))

    # -- assertions ---------------------------------------------------------------------------
    def assert_pushed(self, reference: str) -> None:
        """`repo:tag` or `repo@digest` was pushed (a manifest; for a digest, a blob also counts)."""
        repository, tag, digest = _split_reference(reference)
        if tag is not None and reference in self.pushed_tags(repository):
            return
        if digest is not None and reference in self.pushed_manifests(repository) + self.pushed_blobs(repository):
            return
        raise AssertionError(f"{reference} was not pushed.\n"
                             + self._summary(repository, ("tags pushed", self.pushed_tags),
                                             ("manifests pushed", self.pushed_manifests),
                                             ("blobs pushed", self.pushed_blobs)))

    def assert_pulled(self, reference: str) -> None:
        """`repo:tag` or `repo@digest` was fetched with GET (a manifest; for a digest, a blob also counts)."""
        repository, tag, digest = _split_reference(reference)
        if tag is not None and reference in self.pulled_tags(repository):
            return
        if digest is not None and reference in self.pulled_manifests(repository) + self.pulled_blobs(repository):
            return
        raise AssertionError(f"{reference} was not pulled.\n"
                             + self._summary(repository, ("tags pulled", self.pulled_tags),
                                             ("manifests pulled", self.pulled_manifests),
                                             ("blobs pulled", self.pulled_blobs)))

    def assert_blob_uploaded(self, repository: str, digest: str, how: Optional[str] = None) -> BlobUpload:
        """The blob arrived in `repository`, by the given method if `how` is set; returns the upload."""
        upload = self.blob_upload(repository, digest)
        if upload is not None and (how is None or upload.how == how):
            return upload
        seen = "\n".join(f"  {u.repository}@{u.digest} by {u.how}" + (f" ({u.chunks} chunks)" if u.chunks else "")
                         for u in self.blob_uploads()) or "  (none)"
        wanted = f" by {how}" if how else ""
        got = f" It arrived by {upload.how}." if upload is not None else ""
        raise AssertionError(f"blob {digest} did not arrive in {repository}{wanted}.{got}\n"
                             f"Blob uploads seen:\n{seen}\n" + self.describe(repository=repository))

    def assert_count(self, kind: str, expected: int, **criteria: Any) -> None:
        """Exactly `expected` requests of route kind `kind` (with optional `filter` criteria)."""
        matching = self.filter(kind, **criteria)
        if len(matching) != expected:
            where = "".join(f", {k}={v!r}" for k, v in criteria.items())
            raise AssertionError(f"expected {expected} {kind} request(s){where}, saw {len(matching)}:\n"
                                 + (_lines(matching) or "  (none)") + "\n" + self.describe())

    def assert_referrers_tag_written(self, repository: str, subject: str) -> None:
        if not self.referrers_tag_written(repository, subject):
            raise AssertionError(
                f"the referrers fallback tag {referrers_tag(subject)} was not written in {repository}.\n"
                + self._summary(repository, ("tags pushed", self.pushed_tags)))

    # -- reporting ----------------------------------------------------------------------------
    def describe(self, limit: int = 30, repository: Optional[str] = None) -> str:
        """The last `limit` requests, one line each, for failure messages."""
        entries = self.filter(repository=repository)
        shown = entries[-limit:]
        skipped = len(entries) - len(shown) + (self.dropped if repository is None else 0)
        head = f"Requests (last {len(shown)} of {len(shown) + skipped}):" if skipped else f"Requests ({len(shown)}):"
        return head + "\n" + (_lines(shown) or "  (none)")

    def _summary(self, repository: Optional[str],
                 *questions: Tuple[str, Callable[[Optional[str]], Sequence[str]]]) -> str:
        parts = [f"{label}: {', '.join(answer(repository)) or '(none)'}" for label, answer in questions]
        return "\n".join(parts) + "\n" + self.describe(repository=repository)


def attach(registry: Any, maxlen: int = DEFAULT_MAXLEN) -> Journal:
    """The registry's journal, added as its first (outermost) layer if it has none yet."""
    for layer in registry.layers:
        if isinstance(layer, Journal):
            if registry.layers[0] is not layer:
                registry.layers.remove(layer)
                registry.layers.insert(0, layer)
            return layer
    journal = Journal(maxlen)
    registry.layers.insert(0, journal)
    return journal


def _ok(entry: Entry) -> bool:
    return 200 <= entry.status < 300


def _lines(entries: Sequence[Entry]) -> str:
    return "\n".join(f"  {entry}" for entry in entries)


def _split_reference(reference: str) -> Tuple[str, Optional[str], Optional[str]]:
    """"repo:tag" or "repo@digest" -> (repo, tag, digest)."""
    if "@" in reference:
        repository, _, digest = reference.partition("@")
        return repository, None, digest
    repository, sep, tag = reference.rpartition(":")
    if not sep or "/" in tag:
        raise ValueError(f"expected repo:tag or repo@digest, got {reference!r}")
    return repository, tag, None
