"""A small client of the distribution API, for `mockreg seed` and `mockreg export URL`.

It speaks to any registry (mockreg, distribution, zot, Harbor…): answers Basic and Bearer
challenges the way docker does (a token per scope, fetched from the challenge's realm with
the user's credentials, refetched once when a registry says it expired or lacks a scope),
uploads a blob in one PUT or, when large, in PATCH chunks, mounts blobs across repositories
and checks for existing ones with HEAD first.
"""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlencode, urljoin, urlsplit

from . import digest as digests
from .blobdata import BlobBytes, window
from .manifests import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST
from .upstream_auth import basic_authorization, scopes_to_ask, token_in, token_query

MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST)
DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024

Progress = Callable[[str, str, int, int], None]  # repository, digest, bytes sent, total

if TYPE_CHECKING:
    import requests  # imported where used: `mockreg serve` starts faster without it (see README "Performance")


class RemoteError(Exception):
    """A registry that refused or could not be reached; the message is one line for the user."""


class RemoteRegistry:
    """The registry at `url` (http:// or https://), optionally with `user:password` credentials."""

    def __init__(self, url: str, *, credentials: Optional[Tuple[str, str]] = None, insecure: bool = False,
                 ca_file: Optional[str] = None, chunk_size: int = DEFAULT_CHUNK_SIZE, timeout: float = 60) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"expected a registry URL such as http://127.0.0.1:5000, got {url!r}")
        if chunk_size <= 0:
            raise ValueError(f"chunk size must be positive, got {chunk_size}")
        self.url = f"{parts.scheme}://{parts.netloc}"
        self.chunk_size = chunk_size
        self._credentials = credentials
        self._timeout = timeout
        import requests

        self._session = requests.Session()
        # Passed on every request: a Session's own `verify` loses to REQUESTS_CA_BUNDLE in the environment.
        self._verify: Any = ca_file if ca_file else not insecure
        self._insecure = insecure
        self._tokens: Dict[str, str] = {}  # scope -> bearer token
        self._bearer: Optional[Dict[str, str]] = None  # realm and service of the last Bearer challenge
        self._basic = False

    # -- requests with auth ----------------------------------------------------------------
    def request(self, method: str, path_or_url: str, scope: str, expect: Tuple[int, ...],
                **kwargs: Any) -> requests.Response:
        """Send a request, answering one auth challenge; RemoteError unless the status is expected."""
        url = path_or_url if "://" in path_or_url else self.url + path_or_url
        response = self._send(method, url, scope, kwargs)
        if response.status_code == 401 and self._answer(response, scope):
            response = self._send(method, url, scope, kwargs)
        if response.status_code not in expect:
            raise RemoteError(f"{method} {url}: {_describe(response)}")
        return response

    def _send(self, method: str, url: str, scope: str, kwargs: Dict[str, Any]) -> requests.Response:
        import requests

        headers = dict(kwargs.get("headers") or {})
        if self._basic and self._credentials:
            headers["Authorization"] = basic_authorization(self._credentials)
        elif scope in self._tokens or (self._bearer is not None and self._fetch_token(scope)):
            headers["Authorization"] = f"Bearer {self._tokens[scope]}"
        body = kwargs.get("data")
        if isinstance(body, _Body):
            body.rewind()  # a retry after a challenge sends the same bytes again
        options = {**kwargs, "headers": headers, "timeout": self._timeout, "verify": self._verify}
        try:
            with warnings.catch_warnings():
                if self._insecure:
                    warnings.simplefilter("ignore")  # urllib3's InsecureRequestWarning: --insecure asked for it
                return self._session.request(method, url, **options)
        except requests.exceptions.SSLError as exc:
            raise RemoteError(f"{url}: TLS failed ({_reason(exc)}); for a self-signed certificate pass --ca-file CA "
                              "or --insecure, for a plain-http registry give an http:// URL") from None
        except requests.exceptions.RequestException as exc:
            raise RemoteError(f"{method} {url}: {_reason(exc)}") from None

    def _answer(self, response: requests.Response, scope: str) -> bool:
        """Prepare credentials for a retry after a 401; False when retrying cannot help."""
        from .challenges import parse_challenge  # werkzeug, only once a registry asks for credentials

        challenge = response.headers.get("WWW-Authenticate", "")
        scheme, params = parse_challenge(challenge)
        if scheme == "basic":
            if self._credentials is None:
                raise RemoteError(f"{self.url} asks for credentials (Basic auth); pass --user NAME:PASSWORD")
            if self._basic:
                return False  # the credentials were sent and refused
            self._basic = True
            return True
        if scheme == "bearer":
            if "realm" not in params:
                raise RemoteError(f"{self.url} sent a Bearer challenge without a realm: {challenge}")
            self._bearer = {"realm": params["realm"], "service": params.get("service", "")}
            self._tokens.pop(scope, None)
            return self._fetch_token(scope, scopes_to_ask(scope, params))
        return False

    def _fetch_token(self, scope: str, wanted: Optional[str] = None) -> bool:
        import requests

        assert self._bearer is not None
        auth = self._credentials
        try:
            response = self._session.get(self._bearer["realm"], params=token_query(self._bearer, wanted or scope),
                                         auth=auth, timeout=self._timeout, verify=self._verify)
        except requests.exceptions.RequestException as exc:
            raise RemoteError(f"token endpoint {self._bearer['realm']}: {_reason(exc)}") from None
        if response.status_code in (401, 403):
            who = f"user {auth[0]!r}" if auth else "anonymous access (pass --user NAME:PASSWORD)"
            raise RemoteError(f"token endpoint {self._bearer['realm']} refused {who}: {_describe(response)}")
        if response.status_code != 200:
            raise RemoteError(f"token endpoint {self._bearer['realm']}: {_describe(response)}")
        token = token_in(response)
        if token is None:
            raise RemoteError(f"token endpoint {self._bearer['realm']} answered without a token")
        self._tokens[scope] = token
        return True

    # -- the distribution API --------------------------------------------------------------
    def check(self) -> None:
        """Make sure the URL is a registry (GET /v2/), answering auth if asked."""
        self.request("GET", "/v2/", "", (200,))

    def has_blob(self, repository: str, digest: str) -> bool:
        response = self.request("HEAD", f"/v2/{repository}/blobs/{digest}", _pull(repository), (200, 404))
        return response.status_code == 200

    def mount(self, repository: str, digest: str, source: str) -> bool:
        """Mount a blob from `source`; False when the registry declined (nothing is left open)."""
        scope = f"{_push(repository)} {_pull(source)}"
        response = self.request("POST", f"/v2/{repository}/blobs/uploads/?"
                                + urlencode({"mount": digest, "from": source}), scope, (201, 202))
        if response.status_code == 202:  # an upload session instead of a mount: close it again
            self.request("DELETE", self._location(response), scope, (202, 204, 404, 405))
            return False
        return True

    def push_blob(self, repository: str, digest: str, data: BlobBytes,
                  progress: Optional[Progress] = None) -> None:
        """Upload a blob: one PUT up to the chunk size, PATCH chunks and a closing PUT beyond."""
        scope = _push(repository)
        started = self.request("POST", f"/v2/{repository}/blobs/uploads/", scope, (202,),
                               headers={"Content-Length": "0"})
        location = self._location(started)
        chunk = max(self.chunk_size, int(started.headers.get("OCI-Chunk-Min-Length") or 0))
        octets = {"Content-Type": "application/octet-stream"}
        if len(data) <= chunk:
            self.request("PUT", _with_query(location, digest=digest), scope, (201,),
                         data=_Body(window(data, 0, len(data))), headers=octets)
            return
        for offset in range(0, len(data), chunk):
            piece = window(data, offset, offset + chunk)
            headers = {**octets, "Content-Range": f"{offset}-{offset + len(piece) - 1}"}
            answer = self.request("PATCH", location, scope, (202,), data=_Body(piece), headers=headers)
            location = self._location(answer)
            if progress is not None:
                progress(repository, digest, offset + len(piece), len(data))
        self.request("PUT", _with_query(location, digest=digest), scope, (201,), headers={"Content-Length": "0"})

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> None:
        self.request("PUT", f"/v2/{repository}/manifests/{reference}", _push(repository), (201,), data=body,
                     headers={"Content-Type": media_type})

    def manifest(self, repository: str, reference: str) -> Tuple[bytes, str, str]:
        """(body, media type, digest) of a manifest; a digest reference is checked against the body."""
        response = self.request("GET", f"/v2/{repository}/manifests/{reference}", _pull(repository), (200,),
                                headers={"Accept": ", ".join(MANIFEST_TYPES)})
        body = response.content
        media_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip()
        if digests.looks_like_digest(reference):
            _verify(body, reference, f"manifest {repository}@{reference}")
            return body, media_type, reference
        return body, media_type, response.headers.get("Docker-Content-Digest") or digests.of(body)

    def blob(self, repository: str, digest: str) -> bytes:
        response = self.request("GET", f"/v2/{repository}/blobs/{digest}", _pull(repository), (200,))
        _verify(response.content, digest, f"blob {repository}@{digest}")
        return response.content

    def tags(self, repository: str) -> List[str]:
        """Every tag, following `Link` pagination."""
        found: List[str] = []
        url: Optional[str] = f"{self.url}/v2/{repository}/tags/list"
        while url:
            response = self.request("GET", url, _pull(repository), (200,))
            found += response.json().get("tags") or []
            following = response.links.get("next", {}).get("url")
            url = urljoin(url, following) if following else None
        return found

    def referrers(self, repository: str, digest: str) -> List[Dict[str, Any]]:
        """Descriptors of the manifests referring to `digest`; [] when the registry has no referrers API."""
        response = self.request("GET", f"/v2/{repository}/referrers/{digest}", _pull(repository), (200, 404))
        if response.status_code == 404 or "json" not in response.headers.get("Content-Type", ""):
            return []
        return list(response.json().get("manifests") or [])

    def _location(self, response: requests.Response) -> str:
        location = response.headers.get("Location")
        if not location:
            raise RemoteError(f"{response.request.method} {response.url}: {response.status_code} without a Location")
        return urljoin(response.url, location)


def _pull(repository: str) -> str:
    return f"repository:{repository}:pull"


def _push(repository: str) -> str:
    return f"repository:{repository}:pull,push"


def _with_query(url: str, **params: str) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


class _Body:
    """A request body read straight from blob bytes (bytes, bytearray or a slice), never copied."""

    def __init__(self, data: Any) -> None:
        self._view = memoryview(data).cast("B")
        self._position = 0

    def __len__(self) -> int:  # requests sets Content-Length from it
        return len(self._view)

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else self._position + size
        piece = self._view[self._position:end]
        self._position += len(piece)
        return bytes(piece)

    def rewind(self) -> None:
        self._position = 0


def _verify(data: bytes, digest: str, what: str) -> None:
    try:
        actual = digests.of(data, digest.split(":", 1)[0])
    except ValueError as exc:
        raise RemoteError(f"{what}: {exc}") from None
    if actual != digest:
        raise RemoteError(f"{what}: the registry sent content whose digest is {actual}")


def _describe(response: requests.Response) -> str:
    """`404 MANIFEST_UNKNOWN: manifest unknown` from a registry's error JSON, else status and text."""
    try:
        errors = response.json().get("errors") or []
        first = errors[0]
        detail = f"{first.get('code')}: {first.get('message')}"
    except (ValueError, AttributeError, IndexError, TypeError):
        detail = " ".join(response.text.split())[:200] or response.reason
    return f"{response.status_code} {detail}"


def _reason(exc: Exception) -> str:
    """The innermost reason of a requests error, without urllib3's pool and object reprs."""
    text = str(exc)
    for pattern in (r"certificate verify failed: ([^'\")]+)", r"\[SSL: [A-Z_]+\] ([^'\"(]+)",
                    r"\[Errno -?\d+\] ([^'\")]+)", r"(Read timed out)"):
        found = re.search(pattern, text)
        if found:
            return found.group(1).strip()
    return text
