"""Scenario files: "give me a registry that looks like this", in YAML or JSON.

    scenario = Scenario.load("fixtures/quickstart.yaml")
    scenario.apply(registry)                    # all or nothing
    scenario.digest("demo/app:1.0")             # no hard-coded digests in tests

The format is described by `schema.json` beside this file and in docs/scenarios.md.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Set, Union

from .. import content
from ..auth.config import AuthConfig
from ..content import Image, Index
from ..error_rules import ErrorRule
from ..events.config import KeyedConfigError, NotificationsConfig, parse_notifications
from ..extensions.installed import BUILTINS
from ..extensions.model import RESERVED_NAMES, Extension
from ..faults import FaultRule
from ..header_rules import HeaderRule
from ..http import Response, json_response
from ..layout import LayoutError, import_layout
from ..ratelimit import RateLimit
from ..reference import is_valid_name
from ..settings import coerce
from . import files
from .build import RepositoryPlan, plan_repository
from .errors import ScenarioError

if TYPE_CHECKING:
    from ..registry import Registry

__all__ = ["Scenario", "ScenarioError"]

PathLike = Union[str, Path]


@dataclass
class _Behaviour:
    settings: Dict[str, Any]
    extensions: List[Extension]
    builtins: List[Dict[str, Any]]
    auth: Optional[AuthConfig]
    faults: List[FaultRule]
    rate_limits: List[RateLimit]
    error_rules: List[ErrorRule]
    header_rules: List[HeaderRule]
    profile: Optional[Any]  # a mockreg.profiles.Profile
    notifications: Optional[NotificationsConfig]


class Scenario:
    """A loaded scenario: content built once (deterministic digests), applied to any registry."""

    def __init__(self, document: files.Document) -> None:
        self.path = document.files[-1] if document.files else None
        self.description: str = document.data.get("description", "")
        self._document = document
        for position, prefix in enumerate(document.data.get("namespaces", [])):
            if not is_valid_name(prefix):
                raise document.error(("namespaces", position), f"{prefix!r} is not a namespace (a repository "
                                     "name or a leading part of one)")
        for name in document.data.get("repositories", {}):
            if not is_valid_name(name):
                raise document.error(("repositories", name), f"{name!r} is not a repository name (lowercase "
                                     "components of [a-z0-9] separated by . _ __ or -, joined by /)")
        self._behaviour = _behaviour(document)
        referrers_api = self._behaviour.settings.get("referrers", True)
        self.repositories: Dict[str, RepositoryPlan] = {
            name: plan_repository(document, name, spec, referrers_api)
            for name, spec in document.data.get("repositories", {}).items()}
        if any(plan.missing for plan in self.repositories.values()) \
                and not self._behaviour.settings.get("sparse_manifests", False):
            raise document.error(("settings",), "blobs marked `missing: true` need `sparse_manifests: true`")

    @classmethod
    def load(cls, path: PathLike) -> Scenario:
        """Read, validate and build a scenario file; ScenarioError says what is wrong and where."""
        return cls(files.load(Path(path)))

    # -- looking things up --------------------------------------------------------------
    def content(self, reference: str) -> Union[Image, Index]:
        """The manifest `repo:tag` or `repo@name` refers to (`.digest`, `.config`, `.layers`…)."""
        repository, label = self._split(reference)
        plan = self.repositories[repository]
        if label in plan.tags:
            label = plan.tags[label]
        if label not in plan.manifests:
            known = ", ".join(sorted(set(plan.tags) | set(plan.manifests)))
            raise KeyError(f"{reference!r}: no such tag or name in {repository} (known: {known})")
        return plan.manifests[label]

    def digest(self, reference: str, part: Optional[str] = None, position: int = 0) -> str:
        """The digest of a manifest, or with `part` "config", "layer" (`position`) or "blob".

        `scenario.digest("demo/app:1.0")`, `scenario.digest("demo/app:1.0", "layer", 1)`.
        """
        found = self.content(reference)
        if part is None:
            return found.digest
        if not isinstance(found, Image):
            raise KeyError(f"{reference!r} is an index; it has no {part}")
        if part == "config":
            return found.config.digest
        if part in ("layer", "blob"):
            return found.layers[position].digest
        raise KeyError(f"part must be config, layer or blob, not {part!r}")

    def _split(self, reference: str) -> tuple[str, str]:
        for separator in ("@", ":"):
            repository, sep, label = reference.rpartition(separator)
            if sep and repository in self.repositories:
                return repository, label
        raise KeyError(f"{reference!r}: expected repo:tag or repo@name of a repository in this scenario "
                       f"({', '.join(sorted(self.repositories)) or 'none'})")

    # -- applying -----------------------------------------------------------------------
    @property
    def profile(self) -> Optional[Any]:
        """The registry profile (`mockreg.profiles.Profile`) the file names, or None."""
        return self._behaviour.profile

    def apply(self, registry: Registry) -> None:
        """Load everything into `registry`. On any error the registry is left exactly as it was.
        A `profile:` is applied first, so the scenario's own settings and rules win."""
        from ..registry import Registry

        behaviour = self._behaviour
        profile = behaviour.profile
        if profile is not None and registry.profile is not None and registry.profile.name != profile.name:
            raise self._document.error(("profile",), f"the registry already behaves like profile "
                                                     f"{registry.profile.name!r}, not {profile.name!r}")
        base = registry.settings.replace(**profile.settings) if profile is not None else registry.settings
        settings = base.replace(**behaviour.settings)
        for extension in behaviour.extensions:
            if registry.extensions.get(extension.name) is not None:
                raise self._document.error(("extensions",), f"the registry already has extension {extension.name}")
        for builtin in BUILTINS:
            if any(b["builtin"] == builtin for b in behaviour.builtins) and registry.extensions.already_serves(builtin):
                raise self._document.error(("extensions",), f"the registry already serves the {builtin} extension")
        if behaviour.notifications is not None:
            taken = {e.name for e in registry.notifications.endpoints}
            for position, endpoint in enumerate(behaviour.notifications.endpoints):
                if endpoint.name in taken:
                    raise self._document.error(("notifications", "endpoints", position, "name"),
                                               f"the registry already has a notification endpoint {endpoint.name!r}")
        staging = Registry(settings=settings, clock=registry.clock)
        for prefix in self._document.data.get("namespaces", []):
            staging.create_namespace(prefix)
        for plan in self.repositories.values():
            _push_plan(self._document, staging, plan)
        if profile is not None:
            profile.apply(registry)
        registry.store.absorb(staging.store)
        registry.settings = settings
        for extension in behaviour.extensions:
            registry.extensions.add(extension)
        for spec in behaviour.builtins:
            registry.extensions.enable(spec["builtin"], spec.get("repositories"))
        if behaviour.auth is not None:
            registry.enable_auth(behaviour.auth)
        for rule in behaviour.faults:
            registry.add_fault(rule)
        for limit in behaviour.rate_limits:
            registry.rate_limit(limit)
        for error_rule in behaviour.error_rules:
            registry.add_error_rule(error_rule)
        for header_rule in behaviour.header_rules:
            registry.add_header_rule(header_rule)
        if behaviour.notifications is not None:
            registry.notifications.configure(behaviour.notifications)

    def summary(self) -> List[Dict[str, Any]]:
        """One row per manifest: repository, tags, kind, digest and total size, for `scenario show`."""
        rows = []
        for name, plan in self.repositories.items():
            tags_of: Dict[str, List[str]] = {}
            for tag, label in plan.tags.items():
                tags_of.setdefault(label, []).append(tag)
            for label, manifest in plan.manifests.items():
                blobs = sum(b.size for b in manifest.blobs) if isinstance(manifest, Image) else 0
                size = len(manifest.manifest) + blobs
                kind = "index" if isinstance(manifest, Index) else ("artifact" if manifest.artifact_type else "image")
                rows.append({"repository": name, "name": label, "tags": sorted(tags_of.get(label, [])),
                             "kind": kind, "digest": manifest.digest, "size": size})
        return rows


def _push_plan(document: files.Document, staging: Registry, plan: RepositoryPlan) -> None:
    staging.create_repository(plan.name)  # listed, even empty: it exists (for repository_must_exist)
    # Blobs were hashed when the scenario was built: store them as they are, never hashing twice.
    for blob in plan.blobs:
        staging.store.add_blob(plan.name, blob.digest, blob.data)
    pushed: Set[str] = set()
    for manifest in plan.manifests.values():
        _push_manifest(staging, plan, manifest, pushed)
    for label in plan.fallback:
        content.add_to_referrers_tag(staging, plan.name, plan.manifests[label])
    for tag, label in plan.tags.items():
        manifest = plan.manifests[label]
        staging.push_manifest(plan.name, manifest.manifest, tag, media_type=manifest.media_type)
    for path, layout_tag, where in plan.layouts:
        try:
            import_layout(staging, path, plan.name, layout_tag)
        except LayoutError as exc:
            raise document.error(where, str(exc)) from None


def _push_manifest(staging: Registry, plan: RepositoryPlan, manifest: Union[Image, Index], pushed: Set[str]) -> None:
    if manifest.digest in pushed:
        return
    if isinstance(manifest, Image):
        for blob in manifest.blobs:
            if blob.digest not in plan.missing:
                staging.store.add_blob(plan.name, blob.digest, blob.data)
    else:
        for child in manifest.manifests:
            if isinstance(child, (Image, Index)):
                _push_manifest(staging, plan, child, pushed)
    staging.push_manifest(plan.name, manifest.manifest, media_type=manifest.media_type)
    pushed.add(manifest.digest)


def _behaviour(document: files.Document) -> _Behaviour:
    data = document.data
    settings: Dict[str, Any] = {}
    for key, value in data.get("settings", {}).items():
        try:
            settings.update(coerce({key: value}))
        except ValueError as exc:
            raise document.error(("settings", key), str(exc)) from None
    extensions, builtins = [], []
    for position, spec in enumerate(data.get("extensions", [])):
        where = ("extensions", position)
        if "builtin" in spec:
            if "repositories" in spec and spec["builtin"] not in ("history", "events"):
                raise document.error(where + ("repositories",),
                                     f"only the history and events built-ins take repositories, not {spec['builtin']}")
            builtins.append(spec)
        else:
            extensions.append(_extension(document, spec, where))
    auth = _convert(document, ("auth",), AuthConfig.from_dict, data["auth"]) if "auth" in data else None
    faults = [_convert(document, ("faults", i), FaultRule.from_dict, rule)
              for i, rule in enumerate(data.get("faults", []))]
    limits = [_convert(document, ("rate_limits", i), RateLimit.from_dict, limit)
              for i, limit in enumerate(data.get("rate_limits", []))]
    error_rules = [_convert(document, ("error_rules", i), ErrorRule.from_dict, rule)
                   for i, rule in enumerate(data.get("error_rules", []))]
    header_rules = [_convert(document, ("header_rules", i), HeaderRule.from_dict, rule)
                    for i, rule in enumerate(data.get("header_rules", []))]
    profile = _profile(document, data["profile"]) if "profile" in data else None
    notifications = _notifications(document, data["notifications"]) if "notifications" in data else None
    return _Behaviour(settings, extensions, builtins, auth, faults, limits, error_rules, header_rules, profile,
                      notifications)


def _profile(document: files.Document, name: str) -> Any:
    """A shipped profile by name, or a profile file relative to the scenario that names it."""
    from .. import profiles  # only scenarios with a profile pay for reading profiles

    looks_like_path = "/" in name or name.endswith((".yaml", ".yml"))
    try:
        if looks_like_path:
            base = document.base_dir(("profile",)).resolve()
            path = (base / name).resolve()
            if base not in path.parents:  # as for `file`: nothing outside the scenario's directory
                raise document.error(("profile",), f"{name!r} lies outside the scenario's directory {base}")
            return profiles.load(path)
        return profiles.load(name)
    except profiles.UnknownProfile as exc:  # point at the scenario's line
        raise document.error(("profile",), exc.problem) from None


def _notifications(document: files.Document, value: Any) -> NotificationsConfig:
    try:
        return parse_notifications(value)
    except KeyedConfigError as exc:
        raise document.error(exc.keys, str(exc).split(" ", 1)[1]) from None


def _convert(document: files.Document, where: Any, convert: Callable[[Any], Any], value: Any) -> Any:
    try:
        return convert(value)
    except (ValueError, TypeError) as exc:
        raise document.error(where, str(exc)) from None


def _extension(document: files.Document, spec: Dict[str, Any], where: Any) -> Extension:
    if spec["name"] in RESERVED_NAMES:
        raise document.error(where + ("name",), f"{spec['name']} is reserved by the distribution spec; "
                                                "use `builtin:` to switch on the built-in one")
    try:
        extension = Extension(spec["name"], spec["url"], spec.get("description", ""), spec.get("repositories"))
        for position, route in enumerate(spec.get("routes", [])):
            handler = _route_handler(document, route, where + ("routes", position))
            level = route.get("level", "registry")
            declare = extension.registry_endpoint if level == "registry" else extension.repository_endpoint
            declare(route["component"], route["module"], methods=[route.get("method", "GET")])(handler)
    except ValueError as exc:
        if isinstance(exc, ScenarioError):
            raise
        raise document.error(where, str(exc)) from None
    return extension


def _route_handler(document: files.Document, route: Dict[str, Any], where: Any) -> Callable[..., Any]:
    if "handler" in route:
        module_name, _, function_name = route["handler"].partition(":")
        try:
            handler: Callable[..., Any] = getattr(importlib.import_module(module_name), function_name)
            return handler
        except (ImportError, AttributeError) as exc:
            raise document.error(where + ("handler",), f"cannot import {route['handler']!r}: {exc}") from None
    default = route.get("response", {})
    per_repository = route.get("per_repository", {})
    if route.get("level", "registry") == "registry":
        if per_repository:
            raise document.error(where + ("per_repository",), "per_repository needs level: repository")
        return lambda request, registry: _canned(default)

    def repository_handler(request: Any, registry: Any, name: str) -> Response:
        return _canned(per_repository.get(name, default))
    return repository_handler


def _canned(spec: Dict[str, Any]) -> Response:
    status = spec.get("status", 200)
    headers = list(spec.get("headers", {}).items())
    if "json" in spec:
        return json_response(status, json.dumps(spec["json"]).encode(), headers,
                             content_type=spec.get("content_type", "application/json"))
    body = spec.get("text", "").encode()
    return Response(status, [("Content-Type", spec.get("content_type", "text/plain")),
                             ("Content-Length", str(len(body))), *headers], body)


def load_into(registry: Registry, path: PathLike) -> Scenario:
    """Load the scenario at `path` into `registry` and return it (for digest look-ups)."""
    scenario = Scenario.load(path)
    scenario.apply(registry)
    return scenario

