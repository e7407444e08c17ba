"""`WebhookReceiver`: the webhook end of notifications in a test, and assertions in registry terms.

    def test_push_notifies(mockreg_requests, mockreg_webhook):
        push_image(mockreg_requests.url, "demo/app:1.0")
        mockreg_webhook.assert_event("push", "demo/app:1.0")

It takes deliveries two ways: from a registry in this process without a socket (`subscribe`,
which the `mockreg_webhook` fixture does for the test's registry), and over HTTP on an ephemeral
loopback port (`url`, started on first use) for a registry in another process, e.g.
`mockreg serve --notify URL`. Either way it parses the same bytes a webhook would get.

Delivery is asynchronous, so every assertion waits (up to `timeout`) for what it expects; a
failure lists each event received.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from .record import PYTHON_METHOD

if TYPE_CHECKING:
    from ..registry import Registry
    from ..server import LiveServer
    from .sinks import Endpoint

_numbers = itertools.count(1)
DEFAULT_TIMEOUT = 5.0
Expected = Union[str, Tuple[str, Optional[str]]]  # "push demo/app:1.0" or ("push", "demo/app:1.0")


@dataclass(frozen=True)
class Received:
    """One POST as it arrived."""

    headers: Dict[str, str]
    body: bytes

    @property
    def envelope(self) -> Dict[str, Any]:
        parsed: Dict[str, Any] = json.loads(self.body)
        return parsed

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def cloud_event(self) -> Optional[Dict[str, Any]]:
        """A CloudEvents binary-mode message (`format: cloudevents`) as {type, id, source, time, data}."""
        if "ce-type" not in self.headers:
            return None
        return {"type": self.headers["ce-type"], "id": self.headers.get("ce-id"),
                "source": self.headers.get("ce-source"), "time": self.headers.get("ce-time"),
                "data": self.envelope}


class WebhookReceiver:
    def __init__(self, path: str = "/hook") -> None:
        self.path = path
        self.status: Union[int, Callable[[Dict[str, Any]], int]] = 200  # or a function of the envelope
        self.delay = 0.0  # seconds to wait before answering, to play a slow endpoint
        self.deliveries: List[Received] = []
        self._condition = threading.Condition()
        self._server: Optional[LiveServer] = None
        self._subscribed: List[Tuple[Registry, str]] = []
        # where in-process deliveries are addressed; never resolved, so never reaches the network
        self.in_process_url = f"http://webhook-{next(_numbers)}.mockreg.test{path}"

    # -- receiving ----------------------------------------------------------------------
    @property
    def url(self) -> str:
        """An http:// URL on 127.0.0.1 (ephemeral port) taking deliveries over a socket."""
        if self._server is None:
            from ..server import LiveServer

            self._server = LiveServer(self._wsgi, "127.0.0.1", 0).start()
        return self._server.url + self.path

    def subscribe(self, registry: Registry, name: str = "mockreg_webhook", over_socket: bool = False,
                  **endpoint: Any) -> Endpoint:
        """Add an endpoint to `registry` that delivers here; keys as in the reference registry's
        endpoint config (e.g. `ignore={"actions": ["pull"]}`). Without a socket unless asked."""
        url = self.url if over_socket else self.in_process_url
        if not over_socket:
            registry.notifications.receive_locally(url, self.accept)
        added = registry.notifications.add_endpoint(url, name=name, **endpoint)
        self._subscribed.append((registry, name))
        return added

    def accept(self, method: str, url: str, headers: List[Tuple[str, str]], body: bytes) -> int:
        """Take one delivery (what the HTTP side and in-process deliveries both call)."""
        if self.delay:
            time.sleep(self.delay)
        received = Received({key.lower(): value for key, value in headers}, body)
        status = self.status(received.envelope) if callable(self.status) else self.status
        if 200 <= status < 400:  # a refused delivery is retried: keep only the accepted one
            with self._condition:
                self.deliveries.append(received)
                self._condition.notify_all()
        return status

    def _wsgi(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> List[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = [(key[5:].replace("_", "-"), value) for key, value in environ.items() if key.startswith("HTTP_")]
        if environ.get("CONTENT_TYPE"):
            headers.append(("Content-Type", environ["CONTENT_TYPE"]))
        if environ["REQUEST_METHOD"] != "POST" or environ.get("PATH_INFO") != self.path:
            start_response("404 Not Found", [("Content-Length", "0")])
            return [b""]
        status = self.accept("POST", self.path, headers, body)
        start_response(f"{status} Status", [("Content-Length", "0")])
        return [b""]

    # -- reading ------------------------------------------------------------------------
    @property
    def events(self) -> List[Dict[str, Any]]:
        """Every event received, in the order received."""
        with self._condition:
            return self._events_locked()

    def clear(self) -> None:
        self.flush()
        with self._condition:
            self.deliveries.clear()

    def flush(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Wait until the subscribed registries delivered everything they queued."""
        for registry, _ in self._subscribed:
            registry.notifications.flush(timeout)

    def wait(self, count: int = 1, action: Optional[str] = None, reference: Optional[str] = None,
             timeout: float = DEFAULT_TIMEOUT, **fields: Any) -> List[Dict[str, Any]]:
        """The matching events once at least `count` arrived, or all there are after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                found = [e for e in self._events_locked() if matches(e, action, reference, fields)]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    return found
                self._condition.wait(left)

    def _events_locked(self) -> List[Dict[str, Any]]:
        return [event for received in self.deliveries for event in received.envelope.get("events", ())]

    # -- assertions in registry terms ---------------------------------------------------
    def assert_event(self, action: str, reference: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT,
                     **fields: Any) -> Dict[str, Any]:
        """Wait for an event like ("push", "demo/app:1.0"), ("pull", "demo/app@sha256:…") or
        ("delete", "demo/app"); `fields` match target keys (media_type=…, from_repository=…).
        Returns the first match."""
        found = self.wait(1, action, reference, timeout, **fields)
        if not found:
            raise AssertionError(f"no {_describe(action, reference, fields)} event within {timeout:g}s; "
                                 + self.describe())
        return found[0]

    def assert_count(self, expected: int, action: Optional[str] = None, reference: Optional[str] = None,
                     timeout: float = DEFAULT_TIMEOUT, **fields: Any) -> None:
        """Exactly `expected` matching events (after the subscribed registries flushed)."""
        found = self.wait(expected, action, reference, timeout, **fields)
        self.flush(timeout)
        found = [e for e in self.events if matches(e, action, reference, fields)]
        if len(found) != expected:
            raise AssertionError(f"expected {expected} {_describe(action, reference, fields)} event(s), "
                                 f"got {len(found)}; " + self.describe())

    def assert_no_event(self, action: Optional[str] = None, reference: Optional[str] = None, **fields: Any) -> None:
        self.assert_count(0, action, reference, timeout=0, **fields)

    def assert_events(self, expected: Sequence[Expected], timeout: float = DEFAULT_TIMEOUT) -> None:
        """These events arrived in this order (others may come between them), e.g.
        `assert_events(["push demo/app@sha256:…", "push demo/app:1.0"])`."""
        wanted = [_split_expected(item) for item in expected]
        deadline = time.monotonic() + timeout
        while True:
            events = self.events
            position = 0
            for event in events:
                if position < len(wanted) and matches(event, wanted[position][0], wanted[position][1], {}):
                    position += 1
            if position == len(wanted):
                return
            if time.monotonic() >= deadline:
                action, reference = wanted[position]
                raise AssertionError(f"events out of order or missing: matched {position} of {len(wanted)}, "
                                     f"then no {_describe(action, reference, {})} event; " + self.describe())
            with self._condition:
                self._condition.wait(min(0.05, max(deadline - time.monotonic(), 0)))

    def describe(self) -> str:
        events = self.events
        if not events:
            return "received no events"
        return f"received {len(events)} event(s):\n" + "\n".join(f"  {summary(e)}" for e in events)

    def close(self) -> None:
        for registry, name in self._subscribed:
            try:
                registry.notifications.remove_endpoint(name)
            except KeyError:
                pass
            registry.notifications.receive_locally(self.in_process_url, None)
        self._subscribed.clear()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def matches(event: Dict[str, Any], action: Optional[str], reference: Optional[str], fields: Dict[str, Any]) -> bool:
    if action is not None and event.get("action") != action:
        return False
    target = event.get("target", {})
    if reference is not None:
        repository, tag, digest = split_reference(reference)
        if target.get("repository") != repository or (tag is not None and target.get("tag") != tag) \
                or (digest is not None and target.get("digest") != digest):
            return False
    for key, value in fields.items():
        if key == "from_python":
            if (event.get("request", {}).get("method") == PYTHON_METHOD) != value:
                return False
        elif target.get(_camel(key)) != value:
            return False
    return True


def split_reference(reference: str) -> Tuple[str, Optional[str], Optional[str]]:
    """"demo/app:1.0" -> (demo/app, 1.0, None); "demo/app@sha256:…" -> (demo/app, None, digest)."""
    if "@" in reference:
        repository, _, digest = reference.partition("@")
        return repository, None, digest
    repository, sep, tag = reference.rpartition(":")
    if sep and "/" not in tag:
        return repository, tag, None
    return reference, None, None


def summary(event: Dict[str, Any]) -> str:
    target = event.get("target", {})
    where = target.get("repository", "?")
    if target.get("tag"):
        where += f":{target['tag']}"
    if target.get("digest"):
        where += f"@{target['digest'][:19]}…"
    extra = f" ({target['mediaType']})" if target.get("mediaType") else ""
    origin = " [Python API]" if event.get("request", {}).get("method") == PYTHON_METHOD else ""
    return f"{event.get('action')} {where}{extra}{origin}"


def _describe(action: Optional[str], reference: Optional[str], fields: Dict[str, Any]) -> str:
    parts = [action or "any", reference or ""] + [f"{k}={v!r}" for k, v in fields.items()]
    return " ".join(p for p in parts if p)


def _split_expected(item: Expected) -> Tuple[str, Optional[str]]:
    if isinstance(item, str):
        action, _, reference = item.partition(" ")
        return action, reference or None
    return item[0], item[1]


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word.title() for word in rest)

