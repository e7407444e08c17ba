"""`AuthLayer`: checks every routed request against the auth config before its handler runs.

What a route needs follows from its kind: pull for reads (manifest/blob GET and HEAD, tags,
referrers), push for writes (uploads, manifest PUT; challenged as `pull,push`, the scope
docker asks for), delete for deletes, and a blob mount also needs pull on its `from`
repository. `registry:catalog:*` guards the catalog. Routes of other kinds (extensions) need
pull on their `name` for GET/HEAD, push for other methods, and without a `name` the same as
`/v2/`: any valid token (bearer), or credentials unless anonymous access is on (basic).
The token endpoint and storage redirect targets (`storage-*`, presigned like real storage
URLs) are open; control API routes (`control-*`) need an admin user.

Outcomes: no or bad credentials -> 401 with a challenge; a token lacking a scope its holder
could get -> 401 `error="insufficient_scope"` (clients fetch a new token and retry); an
authenticated user who is not permitted -> 403 DENIED; an expired or forged token -> 401
`error="invalid_token"`. A malformed Authorization header is a 401, never a 500.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from ..errors import RegistryError
from ..http import Request, Response
from ..layers import Layer
from ..routes import Match, Route, route
from .config import AuthConfig, User
from .endpoint import BadCredentials, TokenEndpoint, basic_user
from .tokens import Claims, InvalidToken, TokenSigner, parse_scopes

if TYPE_CHECKING:
    from ..registry import Registry

Need = Tuple[str, str, str]  # (resource type, name, action)

_PULL = {"manifest-get", "manifest-head", "blob-get", "blob-head", "tags-list", "referrers"}
_PUSH = {"manifest-put", "blob-upload-start", "blob-upload-status", "blob-upload-patch", "blob-upload-put",
         "blob-upload-cancel"}
_DELETE = {"manifest-delete", "blob-delete"}
_CHALLENGE_ACTIONS = {"pull": "pull", "push": "pull,push", "delete": "delete"}
CONTROL_REALM = 'Basic realm="mockreg control API"'


def requirement(match: Match, request: Request, extension_access: Optional[Need] = None) -> Tuple[List[Need], str]:
    """What a request needs, and the scope text its challenge names ("" for none).

    `extension_access` is what a registry-level extension declared it needs (its `registry_access`)."""
    kind, name = match.kind, match.params.get("name")
    if kind == "catalog":
        return [("registry", "catalog", "*")], "registry:catalog:*"
    if name is None:
        if kind == "extension" and extension_access is not None:
            return [extension_access], ":".join(extension_access)
        return [], ""
    if kind in _PULL:
        action = "pull"
    elif kind in _PUSH:
        action = "push"
    elif kind in _DELETE:
        action = "delete"
    else:
        action = {"GET": "pull", "HEAD": "pull", "DELETE": "delete"}.get(request.method, "push")
    needs: List[Need] = [("repository", name, action)]
    scopes = [f"repository:{name}:{_CHALLENGE_ACTIONS[action]}"]
    source = request.arg("from") if kind == "blob-upload-start" and request.arg("mount") else None
    if source and source != name:
        needs.append(("repository", source, "pull"))
        scopes.append(f"repository:{source}:pull")
    return needs, " ".join(scopes)


def _detail(needs: List[Need]) -> List[Dict[str, str]]:
    # The shape docker/distribution uses, which some clients print.
    return [{"Type": t, "Class": "", "Name": n, "Action": a} for t, n, a in needs]


class AuthLayer(Layer):
    """Enforces one `AuthConfig`; owns the token endpoint route when the scheme is bearer."""

    order = 10

    def __init__(self, registry: Registry, config: AuthConfig) -> None:
        self.registry = registry
        self._route: Optional[Route] = None
        self.configure(config)

    def configure(self, config: AuthConfig) -> None:
        """Switch to another config; tokens signed before stay valid only if the secret is kept."""
        self.config = config
        secret = config.secret.encode() if config.secret else os.urandom(32)
        self.signer = TokenSigner(secret, config.service, self.registry.clock)
        self.tokens = TokenEndpoint(config, self.signer)
        self.remove_route()
        if config.scheme == "bearer":
            self._route = route(_escape(config.token_path), get=("token", self.tokens.handle),
                                post=("token", self.tokens.handle))
            self.registry.router.add(self._route)

    def remove_route(self) -> None:
        if self._route is not None and self._route in self.registry.router.routes:
            self.registry.router.routes.remove(self._route)
        self._route = None

    def issue_token(self, user: Optional[str], scopes: List[str]) -> str:
        """A token as the endpoint would grant it to `user` (None: anonymous), for tests."""
        found = self.config.known_user(user) if user else None
        if user and found is None:
            raise ValueError(f"unknown user {user!r}")
        token, _ = self.signer.issue(user or "", self.tokens.grant(found, parse_scopes(scopes)),
                                     self.config.token_ttl)
        return token

    # -- the Layer ---------------------------------------------------------------------
    def before(self, registry: Registry, request: Request, match: Optional[Match]) -> Optional[Response]:
        if match is None or match.kind == "token" or match.kind.startswith("storage-"):
            return None
        if match.kind.startswith("control"):
            self._admin(request)
            return None
        needs, scope = requirement(match, request, _extension_access(registry, match))
        if self.config.scheme == "basic":
            self._basic(request, needs)
        else:
            self._bearer(request, needs, scope)
        return None

    def _basic(self, request: Request, needs: List[Need]) -> None:
        header = request.header("Authorization")
        user: Optional[User] = None
        if header:
            try:
                user = basic_user(self.config, header)
            except BadCredentials as exc:
                raise self._basic_challenge(request, str(exc)) from None
            request.environ["mockreg.user"] = user.name
        if not needs:
            if user is None and not self.config.anonymous_allowed:
                raise self._basic_challenge(request, "authentication required")
            return
        if all(self.config.permits(user, *need) for need in needs):
            return
        if user is None:
            raise self._basic_challenge(request, _detail(needs))
        raise RegistryError("DENIED", _detail(needs))

    def _basic_challenge(self, request: Request, detail: Any) -> RegistryError:
        challenge = basic_challenge(self.config, request)
        return RegistryError("UNAUTHORIZED", detail, headers=[("WWW-Authenticate", challenge)])

    def _bearer(self, request: Request, needs: List[Need], scope: str) -> None:
        header = request.header("Authorization")
        if not header:
            raise self._bearer_challenge(request, scope, None, _detail(needs) if needs else "authentication required")
        claims = self._claims(request, header, scope)
        user = self.config.known_user(claims.subject) if claims.subject else None
        if claims.subject:
            request.environ["mockreg.user"] = claims.subject
        missing = [need for need in needs if not claims.allows(*need)]
        if not missing:
            return
        if user is None or all(self.config.permits(user, *need) for need in missing):
            raise self._bearer_challenge(request, scope, "insufficient_scope", _detail(missing))
        raise RegistryError("DENIED", _detail(missing))

    def _claims(self, request: Request, header: str, scope: str) -> Claims:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise self._bearer_challenge(request, scope, "invalid_token", "expected a Bearer token")
        try:
            return self.signer.verify(token.strip())
        except InvalidToken as exc:
            raise self._bearer_challenge(request, scope, "invalid_token", str(exc)) from None

    def _bearer_challenge(self, request: Request, scope: str, error: Optional[str], detail: Any) -> RegistryError:
        parts = [f'realm="{self.realm(request)}"']
        service = self.config.service_for(*request.origin())
        if service:
            parts.append(f'service="{service}"')
        if scope:
            parts.append(f'scope="{scope}"')
        if error:
            parts.append(f'error="{error}"')
        return RegistryError("UNAUTHORIZED", detail, headers=[("WWW-Authenticate", "Bearer " + ",".join(parts))])

    def realm(self, request: Request) -> str:
        realm = self.config.realm
        if realm and "{" not in realm:
            return realm
        scheme, host = request.origin()
        return realm.format(scheme=scheme, host=host) if realm else f"{scheme}://{host}{self.config.token_path}"

    def _admin(self, request: Request) -> None:
        """Control API: Basic credentials of an admin user, or a token issued to one."""
        header = request.header("Authorization") or ""
        denied = RegistryError("DENIED", "the control API needs an admin user")
        try:
            if header.strip().lower().startswith("bearer "):
                subject = self.signer.verify(header.strip()[7:].strip()).subject
                user = self.config.known_user(subject) if subject else None
            elif header:
                user = basic_user(self.config, header)
            else:
                raise BadCredentials("the control API needs an admin user's credentials")
        except (BadCredentials, InvalidToken) as exc:
            raise RegistryError("UNAUTHORIZED", str(exc), headers=[("WWW-Authenticate", CONTROL_REALM)]) from None
        if user is None or not user.admin:
            raise denied
        request.environ["mockreg.user"] = user.name


def basic_challenge(config: AuthConfig, request: Request) -> str:
    """`Basic realm="<service>"`, or with a realm set, `Basic realm="<realm>",service="<service>"`."""
    scheme, host = request.origin()
    service = config.service_for(scheme, host)
    if config.realm is None:
        return f'Basic realm="{service}"'
    realm = config.realm.format(scheme=scheme, host=host) if "{" in config.realm else config.realm
    return f'Basic realm="{realm}"' + (f',service="{service}"' if service else "")


def _extension_access(registry: Registry, match: Match) -> Optional[Need]:
    if match.kind != "extension" or "name" in match.params:
        return None
    extension = registry.extensions.get(match.params.get("extension", ""))
    return getattr(extension, "registry_access", None)


def _escape(path: str) -> str:
    return "".join("\\" + c if c in ".^$*+?{}[]\\|()" else c for c in path)


def enable(registry: Registry, config: Optional[AuthConfig] = None, **options: Any) -> AuthLayer:
    """Install (or reconfigure) the registry's auth; options are AuthConfig fields."""
    if config is not None and options:
        raise TypeError("pass an AuthConfig or keyword options, not both")
    resolved = config if config is not None else AuthConfig.from_dict(options)
    existing = find(registry)
    if existing is not None:
        existing.configure(resolved)
        return existing
    layer = AuthLayer(registry, resolved)
    registry.install_layer(layer)
    return layer


def disable(registry: Registry) -> None:
    layer = find(registry)
    if layer is not None:
        layer.remove_route()
        registry.layers.remove(layer)


def find(registry: Registry) -> Optional[AuthLayer]:
    return next((layer for layer in registry.layers if isinstance(layer, AuthLayer)), None)
