"""The recording proxy: a WSGI app that forwards every request to the upstream and relays
its answer unchanged, except for the URLs the client must follow back through the proxy.

Rewritten, and only these (docs/record.md):
- `Location` and `Link` URLs on the upstream's own host point at the proxy instead (relative
  ones stay as they are);
- `Location` of a redirect elsewhere (a storage backend's signed URL) points at
  `/_record/storage/N` on the proxy, which fetches the real URL without credentials, as a
  client following a cross-host redirect would; the signed URL stays in memory only;
- the `realm` of a `Bearer` challenge points at `/_record/token/N` on the proxy, which forwards
  to the real realm: the client's token flow is recorded too, and a realm the client could not
  reach directly still works.
Everything else, status, headers and body bytes (never decompressed), goes through as it came.
"""

from __future__ import annotations

import base64
import re
import threading
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple
from urllib.parse import parse_qsl, urljoin, urlsplit

from .. import digest as digests
from ..routes import Router
from .backfill import Backfill
from .recording import BlobSink, Recording
from .upstream import Upstream, UpstreamError
from .wire import (
    MAX_SMALL_BODY,
    REALM,
    UPLOAD_ID,
    StartResponse,
    classify,
    error_code,
    error_text,
    is_html_error,
    key_headers,
    oci_error,
    parse_json,
    read_whole,
    relay,
    request_body,
    request_headers,
    scope_of,
    small_body,
    status_line,
)

TOKEN_PREFIX = "/_record/token/"
STORAGE_PREFIX = "/_record/storage/"
_SAFE_ARGS = ("mount", "from", "digest", "n", "last", "service", "scope", "artifactType")
_LINK_URL = re.compile(r"<([^>]*)>")


class RecordingProxy:
    """WSGI app; `say` tells the user about problems (one line each)."""

    def __init__(self, upstream: Upstream, recording: Recording, backfill: Optional[Backfill] = None,
                 say: Callable[[str], None] = lambda line: None) -> None:
        self.upstream, self.recording, self.backfill, self.say = upstream, recording, backfill, say
        self._router = Router()  # classifies requests as the registry does (kinds, names)
        self._redirects: Dict[str, Tuple[str, Optional[str], Optional[str]]] = {}  # id -> (url, repo, digest)
        self._lock = threading.Lock()
        self._idle = threading.Condition()
        self._active = 0  # answers being relayed right now

    def __call__(self, environ: Dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        with self._idle:
            self._active += 1
        try:
            body = self._answer(environ, start_response)
        except BaseException:
            self._done()
            raise
        return self._tracked(body)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no answer is being relayed (its bytes kept): True when none is."""
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout)

    def _tracked(self, body: Iterable[bytes]) -> Iterator[bytes]:
        try:
            yield from body
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()  # runs relay's cleanup: the blob's bytes kept or dropped
            self._done()

    def _done(self) -> None:
        with self._idle:
            self._active -= 1
            self._idle.notify_all()

    def _answer(self, environ: Dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "/")
        try:
            if path.startswith(TOKEN_PREFIX):
                return self._token(environ, start_response)
            if path.startswith(STORAGE_PREFIX):
                return self._storage(environ, start_response)
            if not (path == "/v2" or path.startswith("/v2/")):
                return oci_error(start_response, 404, "UNSUPPORTED", "not found",
                                 f"the recording proxy forwards /v2/ only, not {path}")
            return self._forward(environ, start_response, method, path)
        except UpstreamError as exc:
            self.recording.problem(str(exc))
            self.say(f"upstream error on {method} {path}: {exc}")
            return oci_error(start_response, 502, "UNAVAILABLE", "upstream registry unavailable", str(exc))

    # -- the distribution API ----------------------------------------------------------------
    def _forward(self, environ: Dict[str, Any], start_response: StartResponse, method: str,
                 path: str) -> Iterable[bytes]:
        match = classify(self._router, method, path)
        kind = match.kind if match else None
        params = match.params if match else {}
        query = environ.get("QUERY_STRING", "")
        args = {k: v for k, v in parse_qsl(query, keep_blank_values=True) if k in _SAFE_ARGS}
        repository = params.get("name")
        headers = request_headers(environ)
        self._note_user(headers)
        body = request_body(environ, keep=kind == "manifest-put")
        target = self.upstream.url + environ.get("REQUEST_URI", path + ("?" + query if query else ""))
        response = self.upstream.send(method, target, headers + [("Accept-Encoding", "identity")], body,
                                      scope=scope_of(kind, method, repository, args))
        out = self._relay_headers(response, environ)
        small = small_body(response, method)
        code, message = error_code(response.status_code, small)
        if (kind == "base" and response.status_code not in (200, 401)) or is_html_error(response):
            response.close()
            reason = (f"{self.upstream.url} does not answer like a registry: {method} {path} gave "
                      f"{response.status_code} {response.headers.get('Content-Type', 'without a content type')}")
            self.recording.problem(reason)
            self.say(reason)
            return oci_error(start_response, 502, "UNAVAILABLE", "upstream is not a registry", reason)
        exchange = self.recording.add_exchange(
            method=method, path=UPLOAD_ID.sub(r"\1<session>", path), kind=kind, status=response.status_code,
            repository=repository, args=args, code=code, message=message, headers=key_headers(out),
            text=error_text(response.status_code, small, code))
        authorization = next((v for k, v in headers if k.lower() == "authorization"), None)
        sink, collect = self._content(exchange, params, response, authorization, body)
        start_response(status_line(response.status_code), out)
        if small is not None:
            if collect is not None:
                collect(small)
            if sink is not None:  # a small blob served as JSON (a config) came whole
                sink.write(small)
                sink.finish()
            return [small]
        return relay(response, sink, self.recording, collect)

    def _content(self, exchange: Any, params: Dict[str, str], response: Any, authorization: Optional[str],
                 body: Any) -> Tuple[Optional[BlobSink], Optional[Callable[[bytes], None]]]:
        """What to keep of this answer: a BlobSink for blob bytes, a callback for small bodies."""
        kind, status, repository = exchange.kind, exchange.status, exchange.repository
        reference = params.get("reference_") or params.get("digest") or ""
        dcd = response.headers.get("Docker-Content-Digest")
        media_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip()
        if kind == "manifest-get" and status == 200:
            def keep(data: bytes) -> None:
                self.recording.manifest(repository, reference, data, media_type, dcd)
            return None, keep
        if kind == "manifest-head" and status == 200 and dcd:
            if not digests.looks_like_digest(reference):
                self.recording.tag(repository, reference, dcd)
            if self.recording.read(repository, dcd) and self.backfill and not self.recording.has_content(dcd):
                self.backfill.manifest(repository, dcd, authorization)
        elif kind == "manifest-put" and status == 201:
            digest = dcd or (digests.of(bytes(body.kept)) if body is not None and body.kept is not None else None)
            if digest:
                self.recording.pushed(repository, digest, None if digests.looks_like_digest(reference) else reference)
        elif kind == "blob-get" and status == 200 and self.recording.read(repository, reference):
            if not self.recording.has_content(reference):
                return BlobSink(self.recording, repository, reference), None
        elif kind == "blob-head" and status == 200:
            if self.recording.read(repository, reference) and self.backfill:
                self.backfill.blob(repository, reference, authorization)
        elif kind in ("blob-upload-put", "blob-upload-start") and status == 201:
            self._created(exchange, repository, authorization)
        elif kind == "referrers" and status == 200:
            return None, lambda data: self._listed_referrers(repository, data, authorization)
        elif kind == "tags-list" and status == 200:
            return None, lambda data: self._listed_tags(repository, data, authorization)
        return None, None

    def _created(self, exchange: Any, repository: str, authorization: Optional[str]) -> None:
        digest = exchange.args.get("digest") or exchange.args.get("mount")
        if not digest:
            return
        source = exchange.args.get("from")
        if exchange.args.get("mount") and source:
            if self.recording.read(source, digest) and self.backfill:  # mounted: it was there already
                self.backfill.blob(source, digest, authorization)
        self.recording.pushed(repository, digest)

    def _listed_referrers(self, repository: str, data: bytes, authorization: Optional[str]) -> None:
        for descriptor in parse_json(data).get("manifests") or []:
            digest = descriptor.get("digest") if isinstance(descriptor, dict) else None
            if isinstance(digest, str) and self.recording.read(repository, digest) and self.backfill:
                self.backfill.manifest(repository, digest, authorization)

    def _listed_tags(self, repository: str, data: bytes, authorization: Optional[str]) -> None:
        tags = [t for t in parse_json(data).get("tags") or [] if isinstance(t, str)]
        self.recording.listed(repository, tags)
        for tag in tags[:100]:  # a repository with thousands of tags is not fetched whole
            if (repository, tag) not in self.recording.pushed_tags and self.backfill:
                self.backfill.manifest(repository, tag, authorization)

    def _note_user(self, headers: List[Tuple[str, str]]) -> None:
        """Remember who logged in (the name only: the password is never kept)."""
        for key, value in headers:
            if key.lower() == "authorization" and value[:6].lower() == "basic ":
                try:
                    name = base64.b64decode(value[6:].strip()).decode("utf-8").split(":", 1)[0]
                except (ValueError, UnicodeDecodeError):
                    continue
                if name:
                    self.recording.users.add(name)

    # -- header rewriting --------------------------------------------------------------------
    def _relay_headers(self, response: Any, environ: Dict[str, Any]) -> List[Tuple[str, str]]:
        local = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        out: List[Tuple[str, str]] = []
        for key, value in response.raw.headers.items():
            lowered = key.lower()
            if lowered in ("connection", "keep-alive", "transfer-encoding", "proxy-authenticate", "trailer",
                           "upgrade"):
                continue
            if lowered == "location":
                value = self._local_url(value, response.url, local)
            elif lowered == "link":
                value = _LINK_URL.sub(lambda m: f"<{self._local_url(m.group(1), response.url, local)}>", value)
            elif lowered == "www-authenticate" and value[:7].lower() == "bearer ":
                value = REALM.sub(lambda m: f'realm="{local}{TOKEN_PREFIX}{self._realm_id(m.group(1) or m.group(2))}"',
                                  value)
            out.append((key, value))
        return out

    def _local_url(self, value: str, base: str, local: str) -> str:
        absolute = urljoin(base, value)
        parts, upstream = urlsplit(absolute), urlsplit(self.upstream.url)
        if (parts.scheme, parts.netloc) == (upstream.scheme, upstream.netloc) and parts.path.startswith("/v2/"):
            if "://" not in value:
                return value  # relative: the client resolves it against the proxy already
            return local + absolute[len(self.upstream.url):]
        found = re.search(r"/v2/(.+)/blobs/([^/?]+)", urlsplit(base).path)
        with self._lock:
            redirect_id = str(len(self._redirects) + 1)
            self._redirects[redirect_id] = (absolute, found.group(1) if found else None,
                                            found.group(2) if found else None)
        return f"{local}{STORAGE_PREFIX}{redirect_id}"

    def _realm_id(self, realm: str) -> str:
        with self._lock:
            realms = self.recording.realms
            if realm not in realms:
                realms[realm] = str(len(realms) + 1)
            return realms[realm]

    # -- the token endpoint and storage redirects ---------------------------------------------
    def _token(self, environ: Dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        realm_id = environ["PATH_INFO"][len(TOKEN_PREFIX):]
        realm = next((r for r, i in self.recording.realms.items() if i == realm_id), None)
        if realm is None:
            return oci_error(start_response, 404, "UNSUPPORTED", "not found", "no such token realm was handed out")
        query = environ.get("QUERY_STRING", "")
        headers = request_headers(environ)
        length = environ.get("CONTENT_LENGTH") or ""
        body = environ["wsgi.input"].read(min(int(length), MAX_SMALL_BODY)) if length.isdigit() else b""
        self._note_user(headers)
        form = dict(parse_qsl(body.decode("latin-1")))  # an OAuth2 form: only the user name is kept
        if form.get("username"):
            self.recording.users.add(form["username"])
        scopes = [v for k, v in parse_qsl(query) if k == "scope"] + form.get("scope", "").split()
        response = self.upstream.token_request(environ["REQUEST_METHOD"], realm + ("?" + query if query else ""),
                                               headers, body or None)
        small = read_whole(response, MAX_SMALL_BODY)  # a token answer is small, maybe without a Content-Length
        code, _ = error_code(response.status_code, small)
        args = {"scope": " ".join(scopes)} if scopes else {}
        exchange = self.recording.add_exchange(method=environ["REQUEST_METHOD"], path="<token>", kind="token",
                                               status=response.status_code, args=args, code=code)
        credentialed = any(k.lower() == "authorization" for k, _ in headers) or "password" in form \
            or "refresh_token" in form
        if response.status_code == 200 and not credentialed:
            self.recording.anonymous_tokens.append(exchange.label)
        lifetime = parse_json(small).get("expires_in") if response.status_code == 200 else None
        if isinstance(lifetime, int) and lifetime > 0:  # the token's lifetime, not the token
            self.recording.token_ttl = self.recording.token_ttl or (lifetime, exchange.label)
        out = [(k, v) for k, v in self._relay_headers(response, environ) if k.lower() != "content-length"]
        start_response(status_line(response.status_code), out + [("Content-Length", str(len(small)))])
        return [small]

    def _storage(self, environ: Dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        with self._lock:
            found = self._redirects.get(environ["PATH_INFO"][len(STORAGE_PREFIX):])
        if found is None:
            return oci_error(start_response, 404, "BLOB_UNKNOWN", "blob unknown to registry",
                             "no such redirect was handed out")
        url, repository, digest = found
        method = environ["REQUEST_METHOD"]
        response = self.upstream.send(method, url, [("Accept-Encoding", "identity")] + [
            (k, v) for k, v in request_headers(environ) if k.lower() in ("range", "accept")])
        self.recording.add_exchange(method=method, path=f"<storage>/{repository}/blobs/{digest}",
                                    kind=f"storage-blob-{method.lower()}", status=response.status_code,
                                    repository=repository)
        sink = None
        if method == "GET" and response.status_code == 200 and repository and digest \
                and self.recording.read(repository, digest) and not self.recording.has_content(digest):
            sink = BlobSink(self.recording, repository, digest)
        start_response(status_line(response.status_code), self._relay_headers(response, environ))
        return relay(response, sink, self.recording)
