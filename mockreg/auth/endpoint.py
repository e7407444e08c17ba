"""The token endpoint (default `/token`), as docker, containerd, oras and crane call it.

GET (the Docker token protocol): `service`, repeated `scope`, Basic credentials or none for an
anonymous token, `offline_token=true` for a refresh token. POST (the OAuth2 form):
`grant_type=password` (username, password) or `grant_type=refresh_token`, `access_type=offline`
for a refresh token, space-separated `scope`. Answers carry `token` and `access_token` (the
same value), `expires_in` in seconds and `issued_at` in RFC 3339. Each requested scope is
granted only the actions the user may do; a scope nothing is granted for is left out.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs

from ..errors import RegistryError
from ..http import Request, Response, json_response
from .config import ACTIONS, AuthConfig, User
from .tokens import InvalidToken, Scope, TokenSigner, parse_scopes

if TYPE_CHECKING:
    from ..registry import Registry

_FORM_LIMIT = 64 * 1024


class BadCredentials(Exception):
    """An Authorization header that is malformed or names wrong credentials."""


def basic_credentials(header: str) -> Tuple[str, str]:
    """(user, password) from a `Basic` Authorization header; BadCredentials when malformed."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise BadCredentials("expected Basic credentials")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # ValueError: non-ASCII text, which b64decode refuses
        raise BadCredentials("Basic credentials are not valid base64 of user:password") from None
    name, sep, password = decoded.partition(":")
    if not sep:
        raise BadCredentials("Basic credentials lack the ':' between user and password")
    return name, password


def basic_user(config: AuthConfig, header: str) -> User:
    name, password = basic_credentials(header)
    user = config.user(name, password)
    if user is None:
        raise BadCredentials(f"wrong user name or password for {name!r}")
    return user


def rfc3339(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class TokenEndpoint:
    """Answers token requests for one auth config; the route handler is `handle`."""

    def __init__(self, config: AuthConfig, signer: TokenSigner) -> None:
        self.config = config
        self.signer = signer

    def handle(self, registry: Registry, request: Request) -> Response:
        if request.method == "POST":
            return self._oauth2(request)
        return self._docker_get(request)

    # -- GET ---------------------------------------------------------------------------
    def _docker_get(self, request: Request) -> Response:
        service, expected = request.arg("service"), self.config.service_for(*request.origin())
        if service is not None and service != expected:
            raise RegistryError("DENIED", f"unknown service {service!r}; this is {expected!r}",
                                status=400, message="invalid service")
        user: Optional[User] = None
        header = request.header("Authorization")
        if header and header.strip().lower().startswith("basic"):
            try:
                user = basic_user(self.config, header)
            except BadCredentials as exc:
                raise self._unauthorized(request, str(exc)) from None
        if user is None and not (self.config.anonymous_allowed or self.config.anonymous_tokens):
            raise self._unauthorized(request, "this registry has no anonymous access; send Basic credentials")
        scopes = parse_scopes(request.args("scope"))
        refresh = self.signer.issue_refresh(user.name) if user and request.arg("offline_token") == "true" else None
        return self._answer(user, scopes, refresh, oauth2=False)

    def _unauthorized(self, request: Request, detail: str) -> RegistryError:
        service = self.config.service_for(*request.origin()) or "mockreg"
        return RegistryError("UNAUTHORIZED", detail, headers=[("WWW-Authenticate", f'Basic realm="{service}"')])

    # -- POST --------------------------------------------------------------------------
    def _oauth2(self, request: Request) -> Response:
        try:
            form = parse_qs(request.read_all(_FORM_LIMIT).decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return _oauth2_error(400, "invalid_request", "the form is not UTF-8")

        def field(key: str) -> str:
            values = form.get(key)
            return values[0] if values else ""

        service = field("service")
        if service and service != self.config.service_for(*request.origin()):
            return _oauth2_error(400, "invalid_request", f"unknown service {service!r}")
        grant = field("grant_type")
        refresh: Optional[str] = None
        if grant == "password":
            user = self.config.user(field("username"), field("password"))
            if user is None:
                return _oauth2_error(400, "invalid_grant", "wrong user name or password")
            if field("access_type") == "offline":
                refresh = self.signer.issue_refresh(user.name)
        elif grant == "refresh_token":
            try:
                name = self.signer.verify_refresh(field("refresh_token"))
            except InvalidToken as exc:
                return _oauth2_error(400, "invalid_grant", str(exc))
            found = self.config.known_user(name)
            if found is None:
                return _oauth2_error(400, "invalid_grant", f"user {name!r} no longer exists")
            user, refresh = found, field("refresh_token")
        else:
            return _oauth2_error(400, "unsupported_grant_type",
                                 f"grant_type must be password or refresh_token, got {grant!r}")
        return self._answer(user, parse_scopes(form.get("scope", [])), refresh, oauth2=True)

    # -- both --------------------------------------------------------------------------
    def grant(self, user: Optional[User], scopes: List[Scope]) -> List[Scope]:
        granted: Dict[Tuple[str, str], List[str]] = {}
        for scope in scopes:
            wanted = ACTIONS if scope.resource == "repository" and "*" in scope.actions else scope.actions
            allowed = [a for a in wanted if self.config.permits(user, scope.resource, scope.name, a)]
            actions = granted.setdefault((scope.resource, scope.name), [])
            actions.extend(a for a in allowed if a not in actions)
        return [Scope(resource, name, tuple(actions)) for (resource, name), actions in granted.items() if actions]

    def _answer(self, user: Optional[User], scopes: List[Scope], refresh: Optional[str],
                oauth2: bool) -> Response:
        granted = self.grant(user, scopes)
        token, issued = self.signer.issue(user.name if user else "", granted, self.config.token_ttl)
        every = {"token": token, "access_token": token, "expires_in": self.config.token_ttl,
                 "issued_at": rfc3339(issued)}
        payload: Dict[str, Any] = {key: every[key] for key in self.config.token_fields}
        if oauth2:
            payload["scope"] = " ".join(str(s) for s in granted)
        if refresh is not None:
            payload["refresh_token"] = refresh
        return json_response(200, json.dumps(payload).encode(), [("Cache-Control", "no-store")])


def _oauth2_error(status: int, error: str, description: str) -> Response:
    body = json.dumps({"error": error, "error_description": description}).encode()
    return json_response(status, body, [("Cache-Control", "no-store")])
