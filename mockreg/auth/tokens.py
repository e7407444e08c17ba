"""Scopes and signed tokens.

Tokens are JWTs signed with HMAC-SHA256 (stdlib `hmac`) and a per-registry secret. Clients treat
them as opaque; a JWT shape only helps the few that read `exp` to refresh early. Expiry is
measured on the registry clock, so a test ages a token with `registry.clock.advance(...)`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

_HEADER = {"alg": "HS256", "typ": "JWT"}
_VERIFIED_LIMIT = 4096


@dataclass(frozen=True)
class Scope:
    """One `type:name:actions` scope, e.g. `repository:demo/app:pull,push` or `registry:catalog:*`."""

    resource: str
    name: str
    actions: Tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Optional[Scope]:
        """None for text that is not a scope (clients send odd ones; they are simply not granted)."""
        resource, sep, rest = text.partition(":")
        name, sep2, actions = rest.rpartition(":")
        if not sep or not sep2 or not resource or not name:
            return None
        resource = resource.split("(", 1)[0]  # "repository(plugin)" names a resource class
        return cls(resource, name, tuple(a for a in actions.split(",") if a))

    def __str__(self) -> str:
        return f"{self.resource}:{self.name}:{','.join(self.actions)}"


def parse_scopes(values: List[str]) -> List[Scope]:
    """Scopes from repeated `scope` parameters, each possibly space-separated (OAuth2 form)."""
    found = [Scope.parse(part) for value in values for part in value.split()]
    return [scope for scope in found if scope is not None]


class InvalidToken(Exception):
    """A bearer token that is malformed, forged, for another service, or expired."""


@dataclass(frozen=True)
class Claims:
    subject: str  # "" for an anonymous token
    access: Tuple[Scope, ...]
    expires: float

    def allows(self, resource: str, name: str, action: str) -> bool:
        return any(s.resource == resource and s.name == name and (action in s.actions or "*" in s.actions)
                   for s in self.access)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Issues and checks access and refresh tokens for one service."""

    def __init__(self, secret: bytes, service: str, clock: Callable[[], float]) -> None:
        self._secret = secret
        self.service = service
        self._clock = clock
        # Clients send the same token on every request; checking its signature once is enough.
        self._verified: Dict[str, Claims] = {}

    def _sign(self, payload: Dict[str, Any]) -> str:
        head = _b64(json.dumps(_HEADER, separators=(",", ":")).encode())
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        signature = hmac.new(self._secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{_b64(signature)}"

    def _open(self, token: str) -> Dict[str, Any]:
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidToken("malformed token")
        expected = hmac.new(self._secret, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            valid = hmac.compare_digest(_unb64(parts[2]), expected)
            payload = json.loads(_unb64(parts[1])) if valid else None
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise InvalidToken("malformed token") from None
        if not isinstance(payload, dict):
            raise InvalidToken("token signature is invalid")
        if payload.get("aud") != self.service:
            raise InvalidToken(f"token is not for service {self.service}")
        return payload

    def issue(self, subject: str, access: List[Scope], ttl: int) -> Tuple[str, float]:
        """A new access token and the clock time it was issued at."""
        now = self._clock()
        payload = {
            "iss": self.service, "aud": self.service, "sub": subject, "jti": uuid.uuid4().hex,
            "iat": int(now), "nbf": int(now), "exp": int(now) + ttl,
            "access": [{"type": s.resource, "name": s.name, "actions": list(s.actions)} for s in access],
        }
        return self._sign(payload), now

    def verify(self, token: str) -> Claims:
        claims = self._verified.get(token)
        if claims is None:
            claims = self._claims(token)
            if len(self._verified) >= _VERIFIED_LIMIT:
                self._verified.clear()
            self._verified[token] = claims
        if self._clock() >= claims.expires:
            raise InvalidToken("token has expired")
        return claims

    def _claims(self, token: str) -> Claims:
        payload = self._open(token)
        if payload.get("typ") == "refresh":
            raise InvalidToken("a refresh token is not an access token")
        try:
            access = tuple(Scope(a["type"], a["name"], tuple(a["actions"])) for a in payload["access"])
            expires = float(payload["exp"])
            subject = str(payload["sub"])
        except (KeyError, TypeError, ValueError):
            raise InvalidToken("malformed token claims") from None
        return Claims(subject, access, expires)

    def issue_refresh(self, subject: str) -> str:
        now = int(self._clock())
        return self._sign({"typ": "refresh", "aud": self.service, "sub": subject, "iat": now,
                           "jti": uuid.uuid4().hex})

    def verify_refresh(self, token: str) -> str:
        """The user a refresh token was issued to."""
        payload = self._open(token)
        if payload.get("typ") != "refresh" or not isinstance(payload.get("sub"), str):
            raise InvalidToken("not a refresh token")
        return payload["sub"]
