"""A loaded profile and how it is applied to a registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

from ..auth.config import ACTIONS, AuthConfig, User
from ..error_rules import ErrorRule
from ..extensions.installed import BUILTINS
from ..header_rules import HeaderRule
from ..ratelimit import RateLimit
from ..scenario.errors import ScenarioError

if TYPE_CHECKING:
    from ..registry import Registry


UserLike = Union[User, Tuple[str, str]]


class ProfileError(ScenarioError):
    """A profile that cannot be loaded or applied: file:line:column: key path: problem."""


class UnknownProfile(ProfileError):
    """A profile name that names no shipped profile; the message lists the known ones."""

    def __init__(self, name: str, known: List[str]) -> None:
        super().__init__(name, (), f"no profile named {name!r}; known profiles: {', '.join(known)}")
        self.args = (self.problem,)

    def __str__(self) -> str:
        return self.problem


@dataclass(frozen=True)
class Behaviour:
    """One behaviour of a profile as its file states it, with where to check it."""

    key: str  # e.g. "settings.catalog", "auth", "errors[0]"
    value: Any
    sources: List[str]
    note: str = ""
    line: Optional[int] = None


@dataclass
class Profile:
    name: str
    title: str
    description: str = ""
    path: Optional[Path] = None
    settings: Dict[str, Any] = field(default_factory=dict)
    auth: Optional[Dict[str, Any]] = None  # AuthConfig keys, without users
    error_rules: List[ErrorRule] = field(default_factory=list)
    header_rules: List[HeaderRule] = field(default_factory=list)
    rate_limits: List[RateLimit] = field(default_factory=list)
    extensions: List[Dict[str, Any]] = field(default_factory=list)
    entries: List[Behaviour] = field(default_factory=list)
    not_emulated: List[Behaviour] = field(default_factory=list)

    def behaviours(self) -> List[Behaviour]:
        """Every emulated behaviour, in file order, each with its sources and note."""
        return list(self.entries)

    def auth_config(self, users: Sequence[UserLike] = ()) -> Optional[AuthConfig]:
        """The profile's auth with `users` added (a `User`, or a (name, password) pair who may do
        everything); None when the profile has no auth."""
        if self.auth is None:
            return None
        listed = [user if isinstance(user, User) else full_rights_user(*user) for user in users]
        return AuthConfig.from_dict({**self.auth, "users": listed})

    def apply(self, registry: Registry, users: Sequence[UserLike] = ()) -> None:
        """Make `registry` behave like this profile: settings, auth (with `users`), error and
        header rules, rate limits, built-in extensions. A registry takes one profile: applying
        a second, different one is a ProfileError (the default, strict-spec, is no change).
        `users` log in under the profile's own auth; a profile without auth needs none."""
        current = getattr(registry, "profile", None)
        if current is not None and current.name != self.name:
            raise ProfileError(self.path, (), f"the registry already behaves like profile {current.name!r}; "
                                              f"it cannot also take {self.name!r}")
        if current is not None:
            return
        for builtin in BUILTINS:
            if any(e["builtin"] == builtin for e in self.extensions) and registry.extensions.already_serves(builtin):
                raise ProfileError(self.path, ("extensions",), f"the registry already serves the {builtin} extension")
        config = self.auth_config(users)  # everything that can fail is checked before anything changes
        registry.configure(**self.settings)
        for rule in self.error_rules:
            registry.add_error_rule(rule)
        for header_rule in self.header_rules:
            registry.add_header_rule(header_rule)
        for limit in self.rate_limits:
            registry.rate_limit(limit)
        for extension in self.extensions:
            registry.extensions.enable(extension["builtin"], extension.get("repositories"))
        if config is not None:
            registry.enable_auth(config)
        registry.profile = self

    def summary(self) -> Dict[str, Any]:
        """What the control API and `mockreg profiles show --json` report."""
        return {"name": self.name, "title": self.title, "description": self.description,
                "behaviours": [{"key": b.key, "value": b.value, "sources": b.sources, "note": b.note}
                               for b in self.entries],
                "not_emulated": [{"what": b.value, "sources": b.sources, "note": b.note} for b in self.not_emulated]}


def full_rights_user(name: str, password: str) -> User:
    """A user who may do everything, the control API included (`serve --profile X --user U:P`)."""
    return User(name=name, password=password, access={"*": list(ACTIONS)}, catalog=True, admin=True)
