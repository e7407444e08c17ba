"""The recorder's side towards the real registry: one requests Session, streaming both ways.

The client's own credentials pass through untouched. Credentials given to the recorder itself
(`--user NAME:PASSWORD` or `--token TOKEN`) are added only to requests that carry none: Basic
once the upstream asked for Basic, Bearer from the upstream's token flow (a token per scope,
fetched from the challenge's realm with those credentials), or the given token as it is.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from ..challenges import parse_challenge
from ..remote import _reason
from ..upstream_auth import basic_authorization, scopes_to_ask, token_in, token_query

if TYPE_CHECKING:
    import requests


class UpstreamError(Exception):
    """The upstream could not be asked (unreachable, TLS, timeout); the message is one line."""


class Upstream:
    """The registry at `url`, over http or https (system trust store, or `ca_file`)."""

    def __init__(self, url: str, *, ca_file: Optional[str] = None, credentials: Optional[Tuple[str, str]] = None,
                 token: Optional[str] = None, timeout: float = 60) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"expected an upstream registry URL such as https://registry.example, got {url!r}")
        if parts.username is not None or parts.password is not None:
            raise ValueError("give the upstream's credentials with --user NAME:PASSWORD, not in the URL "
                             "(the URL is written into the recording)")
        if credentials is not None and token is not None:
            raise ValueError("give credentials or a token, not both")
        import requests

        self.url = f"{parts.scheme}://{parts.netloc}"
        self._session = requests.Session()
        self._session.trust_env = False  # no proxy or netrc credentials from the environment sneak in
        self._verify: Any = ca_file or True
        self._timeout = timeout
        self._credentials = credentials
        self._token = token
        self._lock = threading.Lock()
        self._scheme: Optional[str] = None  # what the upstream asked for, once it did
        self._bearer: Dict[str, str] = {}  # realm and service of its Bearer challenge
        self._tokens: Dict[str, str] = {}  # scope -> token fetched with our credentials
        self.own_challenge: Optional[str] = None  # the challenge our credentials answered, for the record

    @property
    def has_own_credentials(self) -> bool:
        return self._credentials is not None or self._token is not None

    def send(self, method: str, url: str, headers: List[Tuple[str, str]], body: Any = None,
             scope: str = "") -> requests.Response:
        """Forward one request; the answer is streamed (read it with `response.raw`)."""
        own = self.has_own_credentials and not any(k.lower() == "authorization" for k, _ in headers)
        sent = list(headers)
        if own:
            sent += self._authorization(scope)
        response = self._request(method, url, sent, body)
        if own and response.status_code == 401 and body is None and self._learn(response, scope):
            response.close()
            response = self._request(method, url, list(headers) + self._authorization(scope), None)
        return response

    def token_request(self, method: str, url: str, headers: List[Tuple[str, str]], body: Any) -> requests.Response:
        """A client's request to the upstream's token endpoint (the realm), forwarded as it is."""
        return self._request(method, url, headers, body)

    def _request(self, method: str, url: str, headers: List[Tuple[str, str]], body: Any) -> requests.Response:
        import requests

        try:
            return self._session.request(method, url, headers=dict(headers), data=body, stream=True,
                                         allow_redirects=False, timeout=self._timeout, verify=self._verify)
        except requests.exceptions.SSLError as exc:
            raise UpstreamError(f"TLS with {_origin(url)} failed ({reason(exc)}); for a private CA pass "
                                "--ca-file CA.pem, for a plain-http registry give an http:// URL") from None
        except requests.exceptions.Timeout:
            raise UpstreamError(f"{_origin(url)} did not answer {method} within {self._timeout:g} s") from None
        except requests.exceptions.RequestException as exc:
            raise UpstreamError(f"cannot reach {_origin(url)}: {reason(exc)}") from None

    # -- the recorder's own credentials --------------------------------------------------------
    def _authorization(self, scope: str) -> List[Tuple[str, str]]:
        with self._lock:
            scheme = self._scheme
        if self._token is not None:
            return [("Authorization", f"Bearer {self._token}")]
        if scheme == "basic" and self._credentials is not None:
            return [("Authorization", basic_authorization(self._credentials))]
        if scheme == "bearer":
            token = self._tokens.get(scope) or self._fetch_token(scope)
            return [("Authorization", f"Bearer {token}")] if token else []
        return []

    def _learn(self, response: requests.Response, scope: str) -> bool:
        """Read the challenge of a 401; True when a retry with our credentials can help."""
        challenge = response.headers.get("WWW-Authenticate", "")
        scheme, params = parse_challenge(challenge)
        with self._lock:
            self.own_challenge = self.own_challenge or challenge
            if scheme == "basic" and self._credentials is not None and self._scheme != "basic":
                self._scheme = "basic"
                return True
            if scheme != "bearer" or self._credentials is None:
                return False  # a given --token is sent as it is: a refusal is the upstream's answer
            if "realm" not in params:
                return False
            self._scheme = "bearer"
            self._bearer = {"realm": params["realm"], "service": params.get("service", "")}
            self._tokens.pop(scope, None)
        return self._fetch_token(scope, scopes_to_ask(scope, params)) is not None

    def _fetch_token(self, scope: str, wanted: Optional[str] = None) -> Optional[str]:
        if not self._bearer:
            return None
        import requests

        try:
            answer = self._session.get(self._bearer["realm"], params=token_query(self._bearer, wanted or scope),
                                       auth=self._credentials, timeout=self._timeout, verify=self._verify)
        except requests.exceptions.RequestException as exc:
            raise UpstreamError(f"token endpoint {self._bearer['realm'].split('?', 1)[0]}: {reason(exc)}") from None
        token = token_in(answer) if answer.status_code == 200 else None
        if token:
            self._tokens[scope] = token
        return token

    def close(self) -> None:
        self._session.close()


def reason(exc: BaseException) -> str:
    """Why a request failed, in one line fit for the recording: query strings (signed URLs carry
    `X-Amz-Signature`, tokens may ride in `?access_token=`) are cut from any URL the error quotes."""
    text = _reason(exc) if isinstance(exc, Exception) else str(exc)
    return re.sub(r"\?[^\s'\")]*", "?…", text)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
