"""`registry.notifications`: turns store changes and successful pulls into events, and hands
them to the endpoints' sinks and the events log.

It observes; it never changes an answer. Until an endpoint or the log is configured nothing is
installed, so a registry without notifications runs exactly the code it ran before. Once on:

- the store calls `_store_changed` after each change (under its lock, so events follow the
  order of the changes): blob push (upload finished), mount, blob delete, manifest push (one
  event per tag named, as distribution's bridge sets `tag` from the request), manifest delete
  (then one tag delete per tag it removed, as registry 2.8 does), tag delete;
- a `Layer` remembers which request is running on this thread (the request record of its
  events) and, after a manifest or blob GET/HEAD answered 200/206, emits a pull (registry 2.8
  emits pulls for HEAD too, and none for a 304).

A change without a request on its thread came from the Python API (arranging state): dropped
unless `python_api` is on; then its `request.method` is "PYTHON". Scenario and layout loads are
not events at all.
"""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from ..digest import looks_like_digest
from ..http import Request, Response
from ..layers import Layer
from ..routes import Match
from .config import EndpointConfig, NotificationsConfig, parse_endpoint, parse_notifications
from .log import DEFAULT_LOG_SIZE, EventLog
from .record import BLOB_MEDIA_TYPE, Event, RequestContext, content_target, event
from .sinks import Endpoint, LocalReceiver

if TYPE_CHECKING:
    from ..registry import Registry
    from ..store import StoredManifest

_CONTEXT_KEY = "mockreg.events.context"
_PULL_HEADER_STARTS = {"Conte", "ETag", "conte", "etag"}  # Content-Type/-Length/-Range, ETag
_PULLS = {"manifest-get": "manifest", "manifest-head": "manifest", "blob-get": "blob", "blob-head": "blob"}


class Notifications:
    """Webhook endpoints and the events log of one registry (docs/events.md)."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self.instance_id = str(uuid.uuid4())
        self.include_references = False
        self.python_api = False
        self.log: Optional[EventLog] = None
        self._endpoints: Tuple[Endpoint, ...] = ()  # replaced, never mutated: request threads iterate it
        self._receivers: Dict[str, LocalReceiver] = {}
        self._emit_lock = threading.Lock()
        self._seq = 0
        self._layer: Optional[_EventsLayer] = None
        self._current = threading.local()

    # -- configuration ------------------------------------------------------------------
    def configure(self, notifications: Union[Mapping[str, Any], NotificationsConfig]) -> List[Endpoint]:
        """Add the endpoints of a `notifications:` mapping (the reference registry's keys);
        disabled ones are skipped, as the reference does. Returns the endpoints added."""
        config = notifications if isinstance(notifications, NotificationsConfig) else parse_notifications(notifications)
        taken = {e.name for e in self._endpoints}
        clash = next((e.name for e in config.endpoints if e.name in taken), None)
        if clash is not None:
            raise ValueError(f"notifications: an endpoint named {clash!r} is already configured")
        if config.include_references:
            self.include_references = True
        if config.python_api is not None:
            self.python_api = config.python_api
        return [self._add(e) for e in config.endpoints if not e.disabled]

    def add_endpoint(self, url: str, name: Optional[str] = None, **keys: Any) -> Endpoint:
        """Send events to `url`, e.g. `add_endpoint("http://127.0.0.1:9000/hook", timeout="500ms",
        ignore={"actions": ["pull"]})`; keys as in the reference registry's endpoint config."""
        config = parse_endpoint({"url": url, "name": name or url, **keys})
        if any(e.name == config.name for e in self._endpoints):
            raise ValueError(f"an endpoint named {config.name!r} is already configured; pass another name")
        return self._add(config)

    def _add(self, config: EndpointConfig) -> Endpoint:
        endpoint = Endpoint(config, self._receivers.get)
        self._endpoints = self._endpoints + (endpoint,)
        self._switch()
        return endpoint

    def remove_endpoint(self, name: str) -> None:
        found = self.endpoint(name)
        self._endpoints = tuple(e for e in self._endpoints if e is not found)
        found.close()
        self._switch()

    def endpoint(self, name: str) -> Endpoint:
        for endpoint in self._endpoints:
            if endpoint.name == name:
                return endpoint
        raise KeyError(f"no notification endpoint named {name!r}; endpoints: "
                       f"{', '.join(e.name for e in self._endpoints) or 'none'}")

    @property
    def endpoints(self) -> List[Endpoint]:
        return list(self._endpoints)

    def keep_log(self, size: int = DEFAULT_LOG_SIZE) -> EventLog:
        """Keep the last `size` events for the events extension (and `events()`)."""
        if self.log is None or self.log.size != size:
            self.log = EventLog(size)
            self._switch()
        return self.log

    def receive_locally(self, url: str, receiver: Optional[LocalReceiver]) -> None:
        """Hand deliveries to `url` to `receiver(method, url, headers, body) -> status` in this
        process instead of opening a socket (the webhook fixture uses it); None undoes it."""
        if receiver is None:
            self._receivers.pop(url, None)
        else:
            self._receivers[url] = receiver

    # -- reading ------------------------------------------------------------------------
    def events(self, repository: Optional[str] = None) -> List[Dict[str, Any]]:
        """The logged events (see `keep_log`), oldest first, as the envelopes carry them."""
        if self.log is None:
            raise RuntimeError("no event log is kept; call registry.notifications.keep_log() or enable "
                               "the events extension first")
        return [e.body for e in self.log.after(None, repository)]

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every endpoint delivered what it has queued; False on timeout."""
        return all(endpoint.flush(timeout) for endpoint in self._endpoints)

    def close(self) -> None:
        """Stop delivering and end open event streams (the server is going away)."""
        for endpoint in self._endpoints:
            endpoint.close()
        if self.log is not None:
            self.log.close()

    # -- turning it on and off ----------------------------------------------------------
    @property
    def active(self) -> bool:
        return bool(self._endpoints) or self.log is not None

    def _switch(self) -> None:
        registry = self._registry
        if self.active and self._layer is None:
            self._layer = _EventsLayer(self)
            registry.install_layer(self._layer)
            registry.store.on_change = self._store_changed
        elif not self.active and self._layer is not None:
            registry.layers.remove(self._layer)
            self._layer = None
            registry.store.on_change = None

    # -- making events ------------------------------------------------------------------
    def _context(self, call: str) -> Optional[RequestContext]:
        environ = getattr(self._current, "environ", None)
        if environ is None:
            return RequestContext.of_python(call) if self.python_api else None
        context: Optional[RequestContext] = environ.get(_CONTEXT_KEY)
        if context is None:
            context = environ[_CONTEXT_KEY] = RequestContext.of_wsgi(environ)
        return context

    def _store_changed(self, change: str, name: str, *details: Any) -> None:
        context = self._context(change)
        if context is None:
            return
        make = _CHANGES[change]
        now = self._registry.clock()
        self._emit([event(action, target, context, self.instance_id, now, kind, subject)
                    for action, target, kind, subject in make(self, context, name, *details)])

    def _pulled(self, request: Request, match: Match, response: Response) -> None:
        what = _PULLS.get(match.kind)
        if what is None or response.status not in (200, 206):
            return
        context = self._context("pull")
        if context is None:
            return
        name = match.params["name"]
        headers = {key.lower(): value for key, value in response.headers if key[:5] in _PULL_HEADER_STARTS}
        if what == "blob":
            digest = match.params["digest"]
            total = headers.get("content-range", "").rpartition("/")[2] or headers.get("content-length", "0")
            target = content_target(BLOB_MEDIA_TYPE, digest, int(total), name, _blob_url(context, name, digest))
            kind = "blob"
        else:
            reference = match.params["reference_"]
            digest = headers.get("etag", "").strip('"')
            references = self._references(name, digest) if self.include_references else None
            target = content_target(headers.get("content-type", ""), digest, int(headers.get("content-length", "0")),
                                    name, _manifest_url(context, name, digest),
                                    tag=None if looks_like_digest(reference) else reference, references=references)
            kind = "manifest"
        self._emit([event("pull", target, context, self.instance_id, self._registry.clock(), kind)])

    def _references(self, name: str, digest: str) -> Optional[List[Dict[str, Any]]]:
        try:
            return _descriptors(self._registry.store.resolve(name, digest))
        except Exception:  # deleted meanwhile: the event goes without them
            return None

    def _emit(self, events: List[Event]) -> None:
        with self._emit_lock:
            log, endpoints = self.log, self._endpoints
            for item in events:
                if item.action:  # a repository creation is no distribution event: webhooks of other formats only
                    self._seq += 1
                    item.seq = self._seq
                    if log is not None:
                        log.append(item)
                for endpoint in endpoints:
                    endpoint.write(item)


class _EventsLayer(Layer):
    """Knows which request runs on this thread, and turns successful pulls into events."""

    def __init__(self, notifications: Notifications) -> None:
        self.notifications = notifications

    def before(self, registry: Any, request: Request, match: Optional[Match]) -> Optional[Response]:
        self.notifications._current.environ = request.environ
        return None

    def after(self, registry: Any, request: Request, match: Optional[Match], response: Response) -> Response:
        notifications = self.notifications
        try:
            if match is not None and match.kind in _PULLS:
                notifications._pulled(request, match, response)
        finally:
            notifications._current.environ = None
        return response


# -- what each store change becomes (distribution notifications/bridge.go) ------------------
# (action, target, kind, subject): see record.Event
Made = List[Tuple[str, Dict[str, Any], str, Any]]


def _blob_pushed(hub: Notifications, context: RequestContext, name: str, digest: str, size: int) -> Made:
    return [("push", content_target(BLOB_MEDIA_TYPE, digest, size, name, _blob_url(context, name, digest)),
             "blob", None)]


def _blob_mounted(hub: Notifications, context: RequestContext, name: str, digest: str, size: int,
                  source: Optional[str]) -> Made:
    """`source` is None for a mount "from anywhere" (setting anonymous_mount): no fromRepository then."""
    return [("mount", content_target(BLOB_MEDIA_TYPE, digest, size, name, _blob_url(context, name, digest),
                                     from_repository=source), "blob", None)]


def _manifest_pushed(hub: Notifications, context: RequestContext, name: str, manifest: StoredManifest,
                     tags: List[str]) -> Made:
    references = _descriptors(manifest) if hub.include_references else None
    url = _manifest_url(context, name, manifest.digest)
    named: List[Optional[str]] = list(tags) or [None]
    return [("push", content_target(manifest.media_type, manifest.digest, len(manifest.body), name, url, tag=tag,
                                    references=references), "manifest", manifest)
            for tag in named]


def _manifest_deleted(hub: Notifications, context: RequestContext, name: str, manifest: StoredManifest,
                      tags: List[str]) -> Made:
    """Then one tag delete per tag it took along, as registry 2.8's DeleteManifest untags them."""
    made: Made = [("delete", {"digest": manifest.digest, "repository": name}, "manifest", manifest)]
    return made + [("delete", {"repository": name, "tag": tag}, "untag", manifest) for tag in tags]


def _tag_deleted(hub: Notifications, context: RequestContext, name: str, tag: str,
                 manifest: Optional[StoredManifest]) -> Made:
    return [("delete", {"repository": name, "tag": tag}, "tag", manifest)]


def _blob_deleted(hub: Notifications, context: RequestContext, name: str, digest: str) -> Made:
    return [("delete", {"digest": digest, "repository": name}, "blob", None)]


def _repository_created(hub: Notifications, context: RequestContext, name: str) -> Made:
    return [("", {"repository": name}, "repository", None)]


_CHANGES: Dict[str, Callable[..., Made]] = {
    "blob-push": _blob_pushed, "blob-mount": _blob_mounted, "blob-delete": _blob_deleted,
    "manifest-push": _manifest_pushed, "manifest-delete": _manifest_deleted, "tag-delete": _tag_deleted,
    "repository-create": _repository_created,
}


def _descriptors(manifest: StoredManifest) -> List[Dict[str, Any]]:
    parsed = manifest.parsed
    return [{"mediaType": d.media_type, "digest": d.digest, "size": d.size} for d in parsed.blobs + parsed.children]


def _blob_url(context: RequestContext, name: str, digest: str) -> str:
    return f"{context.base_url}/v2/{name}/blobs/{digest}" if context.base_url else ""


def _manifest_url(context: RequestContext, name: str, digest: str) -> str:
    return f"{context.base_url}/v2/{name}/manifests/{digest}" if context.base_url else ""
