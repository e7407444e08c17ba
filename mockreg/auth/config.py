"""Who may do what: users, their per-repository grants (glob patterns) and anonymous access.

A grant maps a repository glob to actions, e.g. `{"demo/*": ["pull", "push"]}`. Globs follow
`fnmatch`: `*` matches any characters, `/` included, so `demo/*` covers `demo/a/b` too.
Anonymous grants apply to everyone, so a public repository stays readable after logging in.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from ..mapping import ConfigError, boolean, from_mapping, number, optional_str, string_list, to_mapping

ACTIONS = ("pull", "push", "delete")
_ACTION_CHOICES = ACTIONS + ("*",)
SCHEMES = ("bearer", "basic")
TOKEN_FIELDS = ("token", "access_token", "expires_in", "issued_at")


def _grants(value: Any, what: str) -> Dict[str, List[str]]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{what} must map repository globs to actions, e.g. {{'demo/*': ['pull']}}")
    result: Dict[str, List[str]] = {}
    for glob, actions in value.items():
        if not isinstance(glob, str) or not glob:
            raise ConfigError(f"{what}: repository glob must be a non-empty string, got {glob!r}")
        listed = string_list(actions, f"{what}[{glob!r}]", _ACTION_CHOICES)
        result[glob] = list(ACTIONS) if "*" in listed else [a for a in ACTIONS if a in listed]
    return result


@dataclass
class User:
    """A user with a password and grants; `admin` may do everything, the control API included."""

    name: str
    password: str
    access: Dict[str, List[str]] = field(default_factory=dict)
    catalog: bool = False
    admin: bool = False

    def __post_init__(self) -> None:
        for key in ("name", "password"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key):
                raise ConfigError(f"user {key} must be a non-empty string, got {getattr(self, key)!r}")
        if ":" in self.name:
            raise ConfigError(f"user name {self.name!r} must not contain ':' (Basic auth splits on it)")
        self.access = _grants(self.access, f"user {self.name!r} access")
        boolean(self.catalog, f"user {self.name!r} catalog")
        boolean(self.admin, f"user {self.name!r} admin")

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> User:
        return from_mapping(cls, mapping, "user")

    def to_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "password": self.password, **{k: v for k, v in to_mapping(self).items()
                                                               if k not in ("name", "password")}}


@dataclass
class AuthConfig:
    """Auth of one registry. `scheme` "bearer" (token endpoint at `token_path`) or "basic".

    `realm` is the token endpoint's absolute URL as the challenge names it; by default it is
    this registry's own `token_path` on the host the client used, so set it to reach the token
    endpoint on another host or port. It may name `{scheme}` and `{host}` (the scheme and host
    the client used), e.g. "{scheme}://{host}/v2/token". `token_ttl` is in seconds on the
    registry clock. `anonymous_tokens` makes the token endpoint issue a token to a client
    without credentials even where nothing is granted anonymously (the token then grants only
    what `anonymous` allows), as registries with public images do. `service` may be empty (the
    challenge then names none) or name `{scheme}`/`{host}` like `realm`. `token_fields` are the
    fields a token answer carries (some registries send only `access_token`). With the basic
    scheme, a `realm` makes the challenge `Basic realm="<realm>",service="<service>"` instead of
    `Basic realm="<service>"`.
    """

    scheme: str = "bearer"
    users: List[User] = field(default_factory=list)
    anonymous: Dict[str, List[str]] = field(default_factory=dict)
    anonymous_catalog: bool = False
    realm: Optional[str] = None
    service: str = "mockreg"
    token_path: str = "/token"
    token_ttl: int = 300
    secret: Optional[str] = None
    anonymous_tokens: bool = False
    token_fields: List[str] = field(default_factory=lambda: list(TOKEN_FIELDS))

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ConfigError(f"auth scheme must be one of {', '.join(SCHEMES)}, got {self.scheme!r}")
        if not isinstance(self.users, list):
            raise ConfigError(f"auth users must be a list, got {self.users!r}")
        self.users = [u if isinstance(u, User) else User.from_dict(u) for u in self.users]
        names = [u.name for u in self.users]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f"auth users: duplicate name(s) {', '.join(duplicates)}")
        self.anonymous = _grants(self.anonymous, "auth anonymous")
        boolean(self.anonymous_catalog, "auth anonymous_catalog")
        optional_str(self.realm, "auth realm")
        if self.realm is not None and not self.realm.startswith(("http://", "https://", "{scheme}://")):
            raise ConfigError(f"auth realm must be an absolute http(s) URL, got {self.realm!r}")
        if not isinstance(self.service, str) or '"' in self.service:
            raise ConfigError(f"auth service must be a string without quotes, got {self.service!r}")
        for key in ("realm", "service"):
            template = getattr(self, key)
            try:
                if template is not None:
                    template.format(scheme="http", host="h")
            except (KeyError, IndexError, ValueError):
                raise ConfigError(f"auth {key} may name only {{scheme}} and {{host}}, got {template!r}") from None
        if not isinstance(self.token_path, str) or not self.token_path.startswith("/") \
                or _distribution_path(self.token_path):
            raise ConfigError("auth token_path must start with '/' and not be a path of the distribution API "
                              f"(/v2/token is fine, /v2/_catalog is not), got {self.token_path!r}")
        boolean(self.anonymous_tokens, "auth anonymous_tokens")
        self.token_fields = string_list(self.token_fields, "auth token_fields", TOKEN_FIELDS)
        if not {"token", "access_token"} & set(self.token_fields):
            raise ConfigError("auth token_fields must keep token or access_token, or clients get no token")
        number(self.token_ttl, "auth token_ttl", minimum=1, whole=True)
        optional_str(self.secret, "auth secret")
        self._users = {u.name: u for u in self.users}

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> AuthConfig:
        return from_mapping(cls, mapping, "auth")

    def to_dict(self) -> Dict[str, Any]:
        return to_mapping(self)

    # -- decisions ---------------------------------------------------------------------
    def user(self, name: str, password: str) -> Optional[User]:
        """The user these credentials name, or None when they are wrong."""
        found = self._users.get(name)
        return found if found is not None and found.password == password else None

    def known_user(self, name: str) -> Optional[User]:
        return self._users.get(name)

    def service_for(self, scheme: str, host: str) -> str:
        """The service name as clients of `scheme://host` see it ({scheme}/{host} filled in)."""
        return self.service.format(scheme=scheme, host=host) if "{" in self.service else self.service

    @property
    def anonymous_allowed(self) -> bool:
        """Whether clients without credentials may do anything at all (then /v2/ answers them)."""
        return bool(self.anonymous) or self.anonymous_catalog

    def permits(self, user: Optional[User], resource: str, name: str, action: str) -> bool:
        """Whether `user` (None: anonymous) may do `action` on `resource:name`."""
        if user is not None and user.admin:
            return True
        if resource == "registry":
            return name == "catalog" and (self.anonymous_catalog or (user is not None and user.catalog))
        if resource != "repository":
            return False
        if _granted(self.anonymous, name, action):
            return True
        return user is not None and _granted(user.access, name, action)


def _distribution_path(path: str) -> bool:
    """Whether the registry's API answers `path` (then a token endpoint there would hide it)."""
    from ..errors import RegistryError
    from ..routes import Router

    try:
        Router().match("GET", path)
    except RegistryError as error:
        return error.code != "UNSUPPORTED" or error.status != 404  # 404: no route at all; 405: a route
    return True


def _granted(grants: Dict[str, List[str]], name: str, action: str) -> bool:
    return any(action in actions and fnmatch.fnmatchcase(name, glob) for glob, actions in grants.items())
