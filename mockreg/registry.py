"""`Registry`: one isolated in-memory OCI registry, usable as a WSGI app and from Python."""

from __future__ import annotations

import json
import sys
import threading
import traceback
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Sequence, Union

from . import control, error_rules, faults, header_rules, policy, ratelimit, reference
from . import digest as digests
from . import manifests as manifest_types
from .auth import layer as auth_layer
from .auth.config import AuthConfig
from .auth.layer import AuthLayer
from .clock import Clock
from .error_rules import ErrorRule
from .errors import RegistryError
from .extensions import Extension, Extensions, extension_routes
from .faults import FaultRule
from .header_rules import HeaderRule
from .http import Request, Response, error_response, json_response
from .httpdate import date_header
from .layers import Layer
from .ratelimit import RateLimit
from .routes import Match, Router
from .settings import Settings, coerce
from .store import Store, StoredManifest

if TYPE_CHECKING:
    from .events.observer import Notifications

_REASONS = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}
_API_VERSION = ("Docker-Distribution-API-Version", "registry/2.0")


@dataclass(frozen=True)
class Manifest:
    """A stored manifest as the Python API returns it."""

    digest: str
    media_type: str
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Registry:
    """An in-memory OCI distribution registry.

    Call it as a WSGI application, or use its methods to arrange and inspect state::

        registry = Registry(referrers=False)
        digest = registry.push_blob("demo/app", b"hello")
        assert registry.blob("demo/app", digest) == b"hello"
    """

    def __init__(self, settings: Optional[Settings] = None, *, clock: Optional[Clock] = None,
                 control_api: bool = False, profile: Optional[str] = None,
                 users: Sequence[Any] = (), **changes: Any) -> None:
        self.layers: List[Layer] = []
        self.profile: Optional[Any] = None  # the applied mockreg.profiles.Profile, if any
        self.settings = settings or Settings()
        self.clock = clock or Clock()
        self.store = Store(self.clock, lambda: self.settings.upload_timeout)
        self.store.tag_history_limit = lambda: self.settings.tag_history_limit
        self.router = Router()
        # After the distribution routes: `/v2/a/manifests/_tag` is a manifest (see extensions/routing).
        self.router.routes.extend(extension_routes())
        self.extensions = Extensions(self)
        self.server_errors: List[BaseException] = []
        self._errors_lock = threading.Lock()
        self.control_api = False
        if control_api:
            self.enable_control_api()
        if profile is not None:
            from . import profiles  # YAML is read only when a profile is asked for

            profiles.load(profile).apply(self, users)  # users: (name, password) pairs or auth Users
        elif users:
            raise TypeError("users= log in under a profile's auth; without a profile use enable_auth(users=...)")
        if changes:  # settings given by name win over the profile's
            self.configure(**changes)

    def __setattr__(self, name: str, value: Any) -> None:
        # Some switches live in a layer that exists only while they are on (so the spec-exact
        # registry never runs it): follow every change of `settings` here rather than make
        # `settings` a property, which every request reads many times.
        object.__setattr__(self, name, value)
        if name == "settings":
            policy.sync(self)

    # -- configuration ------------------------------------------------------------------
    @property
    def algorithms(self) -> FrozenSet[str]:
        return frozenset({"sha256", "sha512"}) if self.settings.sha512 else frozenset({"sha256"})

    def configure(self, **changes: Any) -> None:
        """Change settings at run time, e.g. `registry.configure(referrers=False)`."""
        self.settings = self.settings.replace(**coerce(changes))

    # -- edge cases: auth, faults, rate limits, control API (docs/edge-cases.md) ------------
    def install_layer(self, layer: Layer) -> None:
        """Add a policy layer by its `order` (auth 10, rate limits 20, faults 30); layers
        without one, such as the journal, stay outermost."""
        order = getattr(layer, "order", 0)
        position = next((i for i, other in enumerate(self.layers) if getattr(other, "order", -1) > order),
                        len(self.layers))
        self.layers.insert(position, layer)

    def enable_auth(self, config: Optional[AuthConfig] = None, **options: Any) -> AuthLayer:
        """Require auth, e.g. `enable_auth(users=[{"name": "u", "password": "p",
        "access": {"demo/*": "pull,push"}}], anonymous={"public/*": "pull"})`."""
        return auth_layer.enable(self, config, **options)

    def disable_auth(self) -> None:
        auth_layer.disable(self)

    @property
    def auth(self) -> Optional[AuthLayer]:
        """The auth layer (its `config`, `issue_token`), or None when auth is off."""
        return auth_layer.find(self)

    def add_fault(self, rule: Optional[FaultRule] = None, **fields: Any) -> str:
        """Inject a fault, e.g. `add_fault(kinds=["blob-get"], first=2, status=503)`; returns its id."""
        if rule is not None and fields:
            raise TypeError("pass a FaultRule or keyword fields, not both")
        return faults.layer_of(self).add(rule if rule is not None else FaultRule.from_dict(fields))

    def remove_fault(self, rule_id: str) -> None:
        faults.layer_of(self).remove(rule_id)

    @property
    def faults(self) -> faults.FaultLayer:
        """The fault layer: `rules()`, `stats(id)`, `remove(id)`, `clear()`."""
        return faults.layer_of(self)

    def rate_limit(self, limit: Optional[Union[int, RateLimit]] = None, **fields: Any) -> str:
        """Limit requests, e.g. `rate_limit(100, window=21600, kinds=["manifest-get"])`; returns its id."""
        if isinstance(limit, RateLimit):
            return ratelimit.layer_of(self).add(limit)
        return ratelimit.layer_of(self).add(RateLimit.from_dict({"limit": limit, **fields}))

    @property
    def rate_limits(self) -> ratelimit.RateLimitLayer:
        return ratelimit.layer_of(self)

    def create_repository(self, name: str) -> None:
        """Create an empty repository (for `repository_must_exist`; it is listed by the catalog)."""
        _check_name(name)
        self.store.create_repository(name)

    def create_namespace(self, prefix: str) -> None:
        """Create a namespace (for `namespace_must_exist`): pushes to `prefix` and to names under
        `prefix/` are then welcome, e.g. a Harbor project or an Artifact Registry repository."""
        _check_name(prefix)
        self.store.create_namespace(prefix)

    def add_error_rule(self, rule: Optional[ErrorRule] = None, **fields: Any) -> ErrorRule:
        """Answer an error differently, e.g. `add_error_rule(when={"reason": "repository-missing"},
        answer={"status": 404, "code": "NAME_UNKNOWN", "message": "..."})`; first match wins."""
        if rule is not None and fields:
            raise TypeError("pass an ErrorRule or keyword fields, not both")
        rule = rule if rule is not None else ErrorRule.from_dict(fields)
        error_rules.layer_of(self).add(rule)
        return rule

    def add_header_rule(self, rule: Optional[HeaderRule] = None, **fields: Any) -> HeaderRule:
        """Drop or add response headers, e.g. `add_header_rule(kinds=["manifest-put"],
        remove=["Docker-Content-Digest"])`."""
        if rule is not None and fields:
            raise TypeError("pass a HeaderRule or keyword fields, not both")
        rule = rule if rule is not None else HeaderRule.from_dict(fields)
        header_rules.layer_of(self).add(rule)
        return rule

    def enable_control_api(self) -> None:
        """Serve the control API under /_mockreg/ (admin users only when auth is on)."""
        if not self.control_api:
            for control_route in control.routes():
                self.router.add(control_route)
            self.control_api = True

    def add_extension(self, name: str, url: str, description: str = "",
                      repositories: Optional[Iterable[str]] = None) -> Extension:
        """Serve a new extension (docs/extensions.md); declare its endpoints on the result::

            ext = registry.add_extension("_acme", url="https://acme.example/ext")
            ext.registry_endpoint("stats", "summary")(lambda request, registry: {"ok": True})
        """
        return self.extensions.add(Extension(name, url, description, repositories))

    @property
    def notifications(self) -> Notifications:
        """Webhook endpoints and the events log (docs/events.md); nothing runs until configured."""
        hub: Optional[Notifications] = self.__dict__.get("_notifications")
        if hub is None:
            from .events.observer import Notifications  # imported when first used
            hub = self.__dict__.setdefault("_notifications", Notifications(self))
        return hub

    # -- WSGI ---------------------------------------------------------------------------
    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self._handle(request)
        except RegistryError as error:
            response = error_response(error)
            # Kept for error rules, which re-answer by code and reason; without its traceback, whose
            # frames hold the environ: that cycle would leave every error answer to the garbage collector.
            environ["mockreg.error"] = error.with_traceback(None)
        except Exception as exc:  # a bug in mockreg: keep it for the test that caused it
            response = self._internal_error(exc)
        # Before the layers, so header rules may drop them.
        response.headers.append(_API_VERSION)
        response.headers.append(date_header())
        match: Optional[Match] = environ.get("mockreg.match")
        for layer in reversed(self.layers):
            response = layer.after(self, request, match, response)
        start_response(_REASONS.get(response.status, str(response.status)), response.headers)
        body = response.body
        if request.method == "HEAD":
            return [b""]
        return [body] if isinstance(body, bytes) else body

    def _handle(self, request: Request) -> Response:
        try:
            match: Optional[Match] = self.router.match(request.method, request.path)
            routing_error = None
        except RegistryError as error:
            match, routing_error = None, error
        request.environ["mockreg.match"] = match
        for layer in self.layers:
            early = layer.before(self, request, match)
            if early is not None:
                return early
        if match is None:
            raise routing_error  # type: ignore[misc]
        response: Response = match.handler(self, request, **match.params)
        return response

    def _internal_error(self, exc: Exception) -> Response:
        with self._errors_lock:
            self.server_errors.append(exc)
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        print(f"mockreg: internal error\n{detail}", file=sys.stderr)
        body = json.dumps({"errors": [{"code": "UNKNOWN", "message": str(exc), "detail": detail}]})
        return json_response(500, body.encode())

    # -- inspecting state ---------------------------------------------------------------
    def repositories(self) -> List[str]:
        """Names of every repository that holds anything, sorted (what `_catalog` lists)."""
        return self.store.catalog()

    def tags(self, name: str) -> List[str]:
        """Tags of a repository, sorted; [] when the repository does not exist."""
        try:
            return self.store.tags(name)
        except RegistryError:
            return []

    def manifest(self, name: str, tag_or_digest: str) -> Manifest:
        """The manifest a tag or digest names; RegistryError MANIFEST_UNKNOWN when there is none."""
        stored = self.store.resolve(name, tag_or_digest)
        return Manifest(stored.digest, stored.media_type, stored.body)

    def blob(self, name: str, digest: str) -> bytes:
        """A copy of a blob's bytes as repository `name` serves them; RegistryError BLOB_UNKNOWN otherwise."""
        return bytes(self.store.blob(name, digest))

    def has_blob(self, name: str, digest: str) -> bool:
        """Whether repository `name` serves the blob (blobs are per repository until mounted)."""
        try:
            self.store.blob(name, digest)
        except RegistryError:
            return False
        return True

    def referrers(self, name: str, digest: str) -> List[Dict[str, Any]]:
        """Descriptors of the manifests in `name` whose subject is `digest`, as the referrers API lists them."""
        return self.store.referrers(name, digest)

    # -- arranging state ----------------------------------------------------------------
    def push_blob(self, name: str, data: bytes, algorithm: str = "sha256") -> str:
        """Store `data` in repository `name`; returns its digest."""
        _check_name(name)
        digest = digests.of(data, algorithm)
        self.store.add_blob(name, digest, bytes(data))
        return digest

    def push_manifest(self, name: str, manifest: Union[bytes, Dict[str, Any]],
                      tags: Union[str, Sequence[str]] = (), media_type: Optional[str] = None,
                      algorithm: str = "sha256") -> str:
        """Store a manifest (a dict is serialised compactly) and tag it; returns its digest.

        It is validated exactly as a PUT over HTTP would be; RegistryError tells what is wrong.
        """
        _check_name(name)
        body = manifest if isinstance(manifest, bytes) else json.dumps(manifest, separators=(",", ":")).encode()
        tag_list = [tags] if isinstance(tags, str) else list(tags)
        for tag in tag_list:
            if not reference.is_valid_tag(tag):
                raise RegistryError("MANIFEST_INVALID", f"invalid tag {tag!r}")
        parsed = manifest_types.parse(body, media_type)
        digest = digests.of(body, algorithm)
        self.store.put_manifest(name, StoredManifest(digest, parsed.media_type, body, parsed), tag_list,
                                self.settings.sparse_manifests)
        return digest

    def delete_manifest(self, name: str, digest: str) -> None:
        """Remove a manifest with its tags and referrers entry, whatever the delete settings say."""
        self.store.delete_manifest(name, digest)

    def delete_tag(self, name: str, tag: str) -> None:
        """Remove a tag; the manifest stays."""
        self.store.delete_tag(name, tag)

    def delete_blob(self, name: str, digest: str) -> None:
        """Unlink a blob from `name`; its bytes go once no repository links them."""
        self.store.delete_blob(name, digest)

    def reset(self) -> None:
        """Forget all content and uploads; settings stay."""
        listener = self.store.on_change
        self.store = Store(self.store.clock, self.store.upload_timeout)
        self.store.on_change = listener  # notifications keep watching the new state
        with self._errors_lock:
            self.server_errors.clear()


def _check_name(name: str) -> None:
    if not reference.is_valid_name(name):
        raise RegistryError("NAME_INVALID", {"name": name})
