"""The `_events` extension: read the registry's events without hosting a webhook (docs/events.md).

    GET /v2/_events/log/page[?n=&last=]                 a page of events, oldest first
    GET /v2/_events/log/stream[?last=&n=&timeout=]      the same events as Server-Sent Events
    GET /v2/<name>/_events/log/page, …/log/stream       only events of repository <name>

A page is an envelope as the webhooks get it (`{"events": [...]}`), paginated the spec's way
(extensions/README.md "Pagination"): at most `n` events after the one whose id is `last`, and a
`Link: <…>; rel="next"` header while more remain. Without `n` a page holds up to 1000 events.

The stream starts after `last` (or the `Last-Event-ID` header a reconnecting EventSource sends),
or at the oldest kept event, and sends each event as `id: <id>`, `event: <action>`,
`data: <event JSON>`. It ends after `n` events, after `timeout` seconds (default 30, at most
300), or when the registry's notifications close (the server stops). A comment line every
second while idle lets a server notice clients that went away.

Auth: the repository level needs pull on <name>, as other repository extensions; the registry
level needs `registry:catalog:*` (a user with `catalog: true`, or an admin), since it reveals
every repository's names and digests, as the catalog does.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Iterable, Iterator, List, Optional

from ..errors import RegistryError
from ..extensions.model import Extension
from ..handlers.common import positive_int_arg
from ..http import Request, Response, json_response
from .log import EventLog
from .record import Event

if TYPE_CHECKING:
    from ..registry import Registry

NAME = "_events"
DOCS_URL = "https://github.com/mockreg/mockreg/blob/main/docs/events.md"
DESCRIPTION = "Registry events (push, pull, mount, delete) as pages and a Server-Sent Events stream"
MAX_PAGE = 1000
DEFAULT_STREAM_SECONDS = 30.0
MAX_STREAM_SECONDS = 300.0
IDLE_COMMENT_SECONDS = 1.0


def events_extension(repositories: Optional[Iterable[str]] = None) -> Extension:
    extension = Extension(NAME, DOCS_URL, DESCRIPTION, repositories)
    extension.registry_access = ("registry", "catalog", "*")
    extension.registry_endpoint("log", "page", produces=("application/json",))(page)
    extension.registry_endpoint("log", "stream", produces=("text/event-stream",))(stream)
    extension.repository_endpoint("log", "page", produces=("application/json",))(page)
    extension.repository_endpoint("log", "stream", produces=("text/event-stream",))(stream)
    return extension


def enable(registry: Registry, repositories: Optional[Iterable[str]] = None) -> Extension:
    """Keep an events log and serve the `_events` extension for it."""
    registry.notifications.keep_log()
    return registry.extensions.add(events_extension(repositories))


def page(request: Request, registry: Registry, name: Optional[str] = None) -> Response:
    log = _log(registry)
    wanted = positive_int_arg(request.arg("n"), "n")
    size = MAX_PAGE if wanted is None else min(wanted, MAX_PAGE)
    found = log.after(request.arg("last"), name)
    chosen = found[:size]
    headers = []
    if len(found) > size and chosen:
        headers.append(("Link", f'<{request.path}?n={size}&last={chosen[-1].id}>; rel="next"'))
    body = json.dumps({"events": [e.body for e in chosen]}).encode()
    return json_response(200, body, headers)


def stream(request: Request, registry: Registry, name: Optional[str] = None) -> Response:
    log = _log(registry)
    last = request.arg("last") or request.header("Last-Event-ID") or None
    limit = positive_int_arg(request.arg("n"), "n")
    seconds = _timeout(request.arg("timeout"))
    log.after(last)  # an unknown cursor is a 400 now, not a broken stream later
    headers = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")]
    return Response(200, headers, _events_of(log, last, name, limit, seconds))


def _events_of(log: EventLog, last: Optional[str], name: Optional[str], limit: Optional[int],
               seconds: float) -> Iterator[bytes]:
    deadline = time.monotonic() + seconds
    sent = 0
    yield b": mockreg events stream\n\n"  # the headers go out now, not with the first event
    while limit is None or sent < limit:
        try:
            batch: List[Event] = log.after(last)
        except RegistryError as lost:  # the reader fell more than the log's size behind
            yield f"event: error\ndata: {json.dumps(str(lost.detail))}\n\n".encode()
            return
        for event in batch:
            last = event.id
            if name is not None and event.repository != name:
                continue
            yield f"id: {event.id}\nevent: {event.action}\ndata: {json.dumps(event.body)}\n\n".encode()
            sent += 1
            if limit is not None and sent >= limit:
                return
        left = deadline - time.monotonic()
        if left <= 0 or log.closed:
            return
        if not batch:
            log.wait(last, min(left, IDLE_COMMENT_SECONDS))
            if log.newest() == last:
                yield b": idle\n\n"


def _log(registry: Registry) -> EventLog:
    log = registry.notifications.log
    if log is None:  # the extension was added by hand without a log behind it
        raise RegistryError("UNSUPPORTED", "this registry keeps no events log", status=404, message="not found")
    return log


def _timeout(value: Optional[str]) -> float:
    if value is None or value == "":
        return DEFAULT_STREAM_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= MAX_STREAM_SECONDS:
        raise RegistryError("UNSUPPORTED", f"timeout must be a number of seconds in (0, {MAX_STREAM_SECONDS:g}], "
                            f"got {value!r}", status=400, message="invalid parameter")
    return seconds
