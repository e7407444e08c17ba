"""The HTTP plumbing of the recording proxy: request bodies and headers handed on as they
arrive, answers relayed piece by piece (blob bytes teed to a file), error answers read whole,
and the views of headers a recording keeps (secrets elided)."""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple
from urllib.parse import parse_qsl

from ..errors import RegistryError
from ..routes import Match, Router
from .recording import BlobSink, Recording
from .upstream import UpstreamError

StartResponse = Callable[..., Any]
MAX_SMALL_BODY = 4 * 1024 * 1024  # manifests, tag and referrer lists: what a registry accepts as a manifest
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
               "transfer-encoding", "upgrade", "host", "content-length", "accept-encoding"}
KEY_HEADERS = ("docker-content-digest", "content-type", "oci-chunk-min-length", "location", "link",
               "www-authenticate", "retry-after", "ratelimit-limit", "ratelimit-remaining", "oci-filters-applied",
               "warning")
REALM = re.compile(r'realm=(?:"([^"]*)"|([^",\s]+))', re.IGNORECASE)  # quoted or a bare token
UPLOAD_ID = re.compile(r"(/blobs/uploads/)[^/?]+")


class RequestBody:
    """The client's request body, handed to requests as a file of known length (so the upstream
    gets the same Content-Length), read as requests sends it: never held whole in memory. A
    small body can be kept (`keep`): a pushed manifest, for its digest when the answer lacks one."""

    def __init__(self, stream: Any, length: Optional[int], keep: bool) -> None:
        self._stream, self._length = stream, length
        self.kept: Optional[bytearray] = bytearray() if keep else None

    def __len__(self) -> int:
        return self._length or 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._stream.read(size if size and size > 0 else 1 << 16)
        if self.kept is not None:
            if len(self.kept) + len(data) <= MAX_SMALL_BODY:
                self.kept += data
            else:
                self.kept = None
        return data

    def __iter__(self) -> Iterator[bytes]:  # a chunked request body (no Content-Length) is sent chunked
        return iter(lambda: self.read(1 << 16), b"")


def request_body(environ: Dict[str, Any], keep: bool) -> Optional[RequestBody]:
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) > 0:
        return RequestBody(environ["wsgi.input"], int(length), keep)
    if environ.get("wsgi.input_terminated"):
        return RequestBody(environ["wsgi.input"], None, keep)
    return None


def request_headers(environ: Dict[str, Any]) -> List[Tuple[str, str]]:
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").title()
            if name.lower() not in _HOP_BY_HOP:
                headers.append((name, value))
    if environ.get("CONTENT_TYPE"):
        headers.append(("Content-Type", environ["CONTENT_TYPE"]))
    return headers


def classify(router: Router, method: str, path: str) -> Optional[Match]:
    try:
        return router.match(method, path)
    except RegistryError:
        return None  # an extension route, or a path the upstream will judge


def scope_of(kind: Optional[str], method: str, repository: Optional[str], args: Dict[str, str]) -> str:
    if kind == "catalog":
        return "registry:catalog:*"
    if not repository:
        return ""
    action = "pull" if method in ("GET", "HEAD") else "delete" if method == "DELETE" else "pull,push"
    scope = f"repository:{repository}:{action}"
    if args.get("from"):
        scope += f" repository:{args['from']}:pull"
    return scope


def small_body(response: Any, method: str) -> Optional[bytes]:
    """The whole body when it is small and not a blob (errors, manifests, JSON lists), else None."""
    if method == "HEAD" or response.status_code in (204, 304):
        response.close()
        return b""
    length = response.headers.get("Content-Length", "")
    media_type = response.headers.get("Content-Type", "")
    if not length.isdigit() or int(length) > MAX_SMALL_BODY or "octet-stream" in media_type:
        return None
    if response.status_code < 300 and "json" not in media_type and "manifest" not in media_type:
        return None
    return read_whole(response, int(length) + 1)


def read_whole(response: Any, limit: int) -> bytes:
    """Up to `limit` bytes of the body, read at once; a broken answer is an UpstreamError."""
    import urllib3

    try:
        data: bytes = response.raw.read(limit, decode_content=False)
        return data
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise UpstreamError(f"the upstream broke off its answer ({type(exc).__name__})") from None
    finally:
        response.close()


def relay(response: Any, sink: Optional[BlobSink], recording: Recording,
            collect: Optional[Callable[[bytes], None]] = None) -> Iterator[bytes]:
    """Relay the body piece by piece; blob bytes go to `sink`, a small body (sent without a
    Content-Length) to `collect` once whole."""
    import urllib3

    whole = False
    kept: Optional[bytearray] = bytearray() if collect is not None else None
    try:
        for chunk in response.raw.stream(1 << 16, decode_content=False):
            if sink is not None:
                sink.write(chunk)
            if kept is not None:
                kept += chunk
                if len(kept) > MAX_SMALL_BODY:
                    kept = None
            yield chunk
        whole = True
        if collect is not None and kept is not None:
            collect(bytes(kept))
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        recording.problem(f"the upstream broke off a response: {type(exc).__name__}")
        # Drop the client's connection too: it must see the same broken answer, not a short one.
        raise ConnectionError("upstream connection broke off") from None
    finally:
        response.close()
        if sink is not None:
            sink.finish() if whole else sink.abort()


def error_code(status: int, body: Optional[bytes]) -> Tuple[Optional[str], Optional[str]]:
    if status < 400 or not body:
        return None, None
    errors = parse_json(body).get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("code") or "") or None, str(errors[0].get("message") or "") or None
    oauth = parse_json(body).get("error")  # a token endpoint's RFC 6749 error
    return (str(oauth), None) if isinstance(oauth, str) else (None, None)


def parse_json(data: bytes) -> Dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


_SECRET_LIKE = re.compile(r"[A-Za-z0-9+/=_.~-]{24,}")  # a token, a signature, base64 credentials


def error_text(status: int, body: Optional[bytes], code: Optional[str]) -> Optional[str]:
    """A short plain-text error body worth replaying, unless it could hold a secret."""
    if status < 400 or code is not None or not body or len(body) > 200:
        return None
    text = body.decode("utf-8", "replace")
    if _SECRET_LIKE.search(text) or not text.replace("\n", "").isprintable():
        return None
    return text


def is_html_error(response: Any) -> bool:
    return response.status_code >= 400 and "text/html" in response.headers.get("Content-Type", "")


def key_headers(headers: List[Tuple[str, str]]) -> Dict[str, str]:
    found: Dict[str, str] = {}
    for key, value in headers:
        lowered = key.lower()
        if lowered in KEY_HEADERS:
            if lowered == "www-authenticate":
                value = REALM.sub('realm="<realm>"', value)
            elif lowered in ("location", "link"):
                value = without_secrets(value)
            found[lowered] = f"{found[lowered]}, {value}" if lowered in found else value
    return found


def without_secrets(value: str) -> str:
    """A URL as the recording shows it: upload ids and query strings (signatures, state) elided."""
    value = UPLOAD_ID.sub(r"\1<session>", value)
    return re.sub(r"\?[^>\s]*", lambda m: "?" + "&".join(
        f"{k}={v}" if k in ("n", "last", "digest") else f"{k}=<elided>" for k, v in parse_qsl(m.group(0)[1:])
    ), value)


def status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def oci_error(start_response: StartResponse, status: int, code: str, message: str, detail: str) -> List[bytes]:
    body = json.dumps({"errors": [{"code": code, "message": message, "detail": detail}]}).encode()
    start_response(status_line(status), [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]

