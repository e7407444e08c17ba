"""One extension: its name, documentation URL, description and the endpoints it serves.

Names follow distribution-spec `extensions/README.md` ("Name"): `_<extension>/<component>/<module>`,
each part matching `[a-z0-9]+([._-][a-z0-9]+)`. Read literally the group occurs exactly once, which
would reject the spec's own `_oci/ext/discover`; the group is meant to repeat, as it does in the
repository-name grammar, so mockreg applies `[a-z0-9]+([._-][a-z0-9]+)*`.
"""

from __future__ import annotations

import fnmatch
import inspect
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple, TypeVar

from .. import reference

SEGMENT_PATTERN = r"[a-z0-9]+(?:[._-][a-z0-9]+)*"
_SPELLED = "[a-z0-9]+([._-][a-z0-9]+)*"  # the same, as error messages show it
RESERVED_NAMES = frozenset({"_oci", "_catalog"})  # extensions/README.md "Reserved Namespaces"
REGISTRY = "registry"
REPOSITORY = "repository"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

_SEGMENT = re.compile(rf"^{SEGMENT_PATTERN}$")
_PARAMETER = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$")

Handler = Callable[..., Any]
H = TypeVar("H", bound=Handler)


@dataclass(frozen=True)
class Operation:
    """What one method of one endpoint runs, and the media types it may answer with (best first)."""

    handler: Handler
    produces: Tuple[str, ...]
    wants_media_type: bool


@dataclass(frozen=True)
class Endpoint:
    level: str
    component: str
    module: str  # a literal module, or "{parameter}" matching any one path segment
    operations: Dict[str, Operation]

    @property
    def parameter(self) -> Optional[str]:
        found = _PARAMETER.match(self.module)
        return found.group(1) if found else None

    def allowed(self) -> str:
        methods = set(self.operations)
        if "GET" in methods:
            methods.add("HEAD")
        return ", ".join(sorted(methods))


class Extension:
    """An extension a registry serves under `/v2/_<name>/...` and/or `/v2/<repo>/_<name>/...`.

    ::

        ext = registry.add_extension("_acme", url="https://acme.example/ext", description="Acme stats")

        @ext.registry_endpoint("stats", "summary")            # GET /v2/_acme/stats/summary
        def summary(request, registry):
            return {"repositories": len(registry.repositories())}

        @ext.repository_endpoint("tags", "{tag}")             # GET /v2/<name>/_acme/tags/<tag>
        def tag(request, registry, name, tag):
            return {"digest": registry.manifest(name, tag).digest}

    A handler returns a `mockreg.http.Response`, or a dict/list sent as JSON. `repositories`
    (names or shell-style patterns such as "demo/*") limits the repository level to those
    repositories; None enables it for every repository. Setting `listed = False` keeps it
    serving but out of discover answers, as on registries that do not advertise everything.
    """

    def __init__(self, name: str, url: str, description: str = "",
                 repositories: Optional[Iterable[str]] = None) -> None:
        if not isinstance(name, str) or not name.startswith("_") or not _SEGMENT.match(name[1:]):
            raise ValueError(
                f"extension name {name!r} must be '_' followed by {_SPELLED} "
                "(distribution-spec extensions/README.md), e.g. '_acme'")
        if not isinstance(url, str) or not url.strip():
            raise ValueError(f"extension {name}: url (its documentation) is required by _oci.md discover")
        self.name = name
        self.url = url
        self.description = description or ""
        self.listed = True
        # What its registry-level endpoints need under auth, as a (type, name, action) grant such
        # as ("registry", "catalog", "*"); None: any authenticated client, as on /v2/.
        self.registry_access: Optional[Tuple[str, str, str]] = None
        self._repositories: Optional[FrozenSet[str]] = None
        self.repositories = repositories
        # Replaced, never mutated, so request threads iterate a stable mapping.
        self._endpoints: Dict[Tuple[str, str, str], Endpoint] = {}

    # -- where it applies ---------------------------------------------------------------
    @property
    def repositories(self) -> Optional[FrozenSet[str]]:
        return self._repositories

    @repositories.setter
    def repositories(self, names: Optional[Iterable[str]]) -> None:
        if names is None:
            self._repositories = None
            return
        chosen = frozenset([names] if isinstance(names, str) else names)
        for pattern in chosen:
            if "*" not in pattern and not reference.is_valid_name(pattern):
                raise ValueError(f"extension {self.name}: {pattern!r} is not a repository name")
        self._repositories = chosen

    def enabled_for(self, repository: str) -> bool:
        chosen = self._repositories
        if chosen is None or repository in chosen:
            return True
        return any("*" in p and fnmatch.fnmatchcase(repository, p) for p in chosen)

    # -- declaring endpoints ------------------------------------------------------------
    def registry_endpoint(self, component: str, module: str, *, methods: Sequence[str] = ("GET",),
                          produces: Sequence[str] = ()) -> Callable[[H], H]:
        """Decorator: serve `handler(request, registry[, **parameters])` at `/v2/_<ext>/<component>/<module>`."""
        return self._declare(REGISTRY, component, module, methods, produces)

    def repository_endpoint(self, component: str, module: str, *, methods: Sequence[str] = ("GET",),
                            produces: Sequence[str] = ()) -> Callable[[H], H]:
        """Decorator: serve `handler(request, registry, name[, **parameters])` at
        `/v2/<name>/_<ext>/<component>/<module>`."""
        return self._declare(REPOSITORY, component, module, methods, produces)

    def _declare(self, level: str, component: str, module: str, methods: Sequence[str],
                 produces: Sequence[str]) -> Callable[[H], H]:
        where = f"{self.name}/{component}/{module}"
        if not isinstance(component, str) or not _SEGMENT.match(component):
            raise ValueError(f"{where}: component {component!r} must match {_SPELLED}")
        if not isinstance(module, str) or not (_SEGMENT.match(module) or _PARAMETER.match(module)):
            raise ValueError(f"{where}: module {module!r} must match {_SPELLED} or be a {{parameter}}")
        wanted = [m.upper() for m in ([methods] if isinstance(methods, str) else methods)]
        unknown = [m for m in wanted if m not in METHODS]
        if not wanted or unknown:
            raise ValueError(f"{where}: methods must be some of {', '.join(METHODS)}, got {list(methods)!r}")
        types = tuple([produces] if isinstance(produces, str) else produces)
        for media_type in types:
            if not isinstance(media_type, str) or not _MEDIA_TYPE.match(media_type):
                raise ValueError(f"{where}: {media_type!r} is not a media type like 'application/json'")
        key = (level, component, module)
        parameter = _PARAMETER.match(module)
        if parameter is not None:
            clash = [m for (lvl, comp, m) in self._endpoints if lvl == level and comp == component
                     and m != module and _PARAMETER.match(m)]
            if clash:
                raise ValueError(f"{where}: {component} already takes a parameter module {clash[0]}")

        def register(handler: H) -> H:
            wants_media_type = _check_signature(handler, level, parameter.group(1) if parameter else None, where)
            existing = self._endpoints.get(key)
            operations = dict(existing.operations) if existing else {}
            for method in wanted:
                if method in operations:
                    raise ValueError(f"{method} {where} at {level} level is already handled")
                operations[method] = Operation(handler, types, wants_media_type)
            self._endpoints = {**self._endpoints, key: Endpoint(level, component, module, operations)}
            return handler

        return register

    # -- serving ------------------------------------------------------------------------
    def serves(self, level: str) -> bool:
        return any(lvl == level for (lvl, _, _) in self._endpoints)

    def resolve(self, level: str, component: str, module: str) -> Optional[Tuple[Endpoint, Dict[str, str]]]:
        """The endpoint a request path names, and the parameter its module captured."""
        endpoints = self._endpoints
        exact = endpoints.get((level, component, module))
        if exact is not None:
            return exact, {}
        if not module:
            return None
        for (lvl, comp, _), endpoint in endpoints.items():
            parameter = endpoint.parameter
            if lvl == level and comp == component and parameter is not None:
                return endpoint, {parameter: module}
        return None

    def paths(self, level: str, repository: Optional[str] = None) -> List[str]:
        """The endpoint paths discover lists at one level, in declaration order."""
        prefix = "/v2/" + (f"{repository}/" if level == REPOSITORY else "")
        return [f"{prefix}{self.name}/{comp}/{mod}" for (lvl, comp, mod) in self._endpoints if lvl == level]

    def describe(self, level: str, repository: Optional[str] = None) -> Dict[str, Any]:
        """This extension as one entry of the discover list (_oci.md; specs-go extensions.Extension)."""
        entry: Dict[str, Any] = {"name": self.name, "url": self.url}
        if self.description:
            entry["description"] = self.description
        entry["endpoints"] = self.paths(level, repository)
        return entry

    def __repr__(self) -> str:
        endpoints = self.paths(REGISTRY) + self.paths(REPOSITORY, "{name}")
        return f"Extension({self.name!r}, endpoints={endpoints})"


def _check_signature(handler: Handler, level: str, parameter: Optional[str], where: str) -> bool:
    """Fail at declaration, not at the first request, when the handler cannot take its arguments.

    Returns whether it takes `media_type` (the type `Accept` negotiation chose)."""
    if not callable(handler):
        raise TypeError(f"{where}: handler must be callable, got {handler!r}")
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):
        return False
    wants_media_type = "media_type" in signature.parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    positional = ["request", "registry"] + (["name"] if level == REPOSITORY else [])
    keywords = {parameter: ""} if parameter else {}
    if wants_media_type:
        keywords["media_type"] = ""
    try:
        signature.bind(*positional, **keywords)
    except TypeError:
        expected = ", ".join(positional + list(keywords))
        raise TypeError(f"{where}: handler {getattr(handler, '__name__', handler)}{signature} "
                        f"must accept ({expected})") from None
    return wants_media_type
