"""Delivery off the request path: a chain of small sinks per endpoint, as in the reference registry.

distribution `notifications/endpoint.go` builds, per endpoint: ignoredSink (media types,
actions) → eventQueue (its own goroutine) → retryingSink (threshold, backoff) → httpSink
(timeout, headers). mockreg keeps that chain and its rules (`notifications/sinks.go` v2.8.3):

- the queue is worked by one thread per endpoint, so events reach an endpoint in the order
  they happened; unlike the reference queue it is bounded (`queuesize`): when it is full the
  *new* event is dropped and counted in `dropped`, so a dead endpoint costs bounded memory;
- a write is retried until it succeeds, as the reference does; after `threshold` consecutive
  failures the sink waits `backoff` before the next try;
- a POST answered 2xx or 3xx is delivered; anything else, or no answer within `timeout`, fails.

Nothing here runs on a request thread except `Endpoint.write`, which appends to a deque.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from .. import __version__
from .cloudevents import binary_message, zot_event
from .config import EndpointConfig
from .record import ENVELOPE_MEDIA_TYPES, Event, envelope

# (method, url, headers, body) -> status; lets a receiver in this process take deliveries without a socket
LocalReceiver = Callable[[str, str, List[Tuple[str, str]], bytes], int]
DELIVERIES_KEPT = 1000
IDLE_SECONDS = 5.0  # a worker with nothing to do ends; the next event starts another


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver one event."""

    event_id: str
    action: str
    attempt: int
    status: Optional[int]  # the HTTP status, None when there was no answer
    error: str  # "" when delivered
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.error

    def to_dict(self) -> Dict[str, Any]:
        return {"event": self.event_id, "action": self.action, "attempt": self.attempt, "status": self.status,
                "error": self.error, "seconds": round(self.seconds, 6)}


class HttpSink:
    """POSTs one event in the endpoint's format; raises DeliveryFailed unless the answer is
    2xx/3xx (distribution http.go)."""

    def __init__(self, config: EndpointConfig, local: Callable[[str], Optional[LocalReceiver]]) -> None:
        self.config = config
        self._local = local
        self._cloud = config.format == "cloudevents"
        self._media_type = ENVELOPE_MEDIA_TYPES.get(config.format, "")

    def takes(self, event: Event) -> bool:
        """Whether this format has a message for the event (zot sends none for blobs or pulls)."""
        return zot_event(event) is not None if self._cloud else bool(event.action)

    def _message(self, event: Event) -> Tuple[List[Tuple[str, str]], bytes]:
        if self._cloud:
            found = zot_event(event)
            assert found is not None  # `takes` said so
            return binary_message(event, found)
        return [("Content-Type", self._media_type)], envelope([event])

    def write(self, event: Event) -> int:
        own, body = self._message(event)
        headers = [*own, ("User-Agent", f"mockreg/{__version__}"), *self.config.headers]
        receiver = self._local(self.config.url)
        if receiver is not None:
            status = receiver("POST", self.config.url, headers, body)
        else:
            status = self._post(body, headers)
        if not 200 <= status < 400:
            raise DeliveryFailed(status, f"response status {status} unaccepted")
        return status

    def _post(self, body: bytes, headers: List[Tuple[str, str]]) -> int:
        parts = urlsplit(self.config.url)
        connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(parts.netloc, timeout=self.config.timeout)
        try:
            connection.putrequest("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
            for key, value in headers:
                connection.putheader(key, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            answer = connection.getresponse()
            answer.read()
            return answer.status
        except (OSError, http.client.HTTPException) as exc:
            raise DeliveryFailed(None, f"error posting: {type(exc).__name__}: {exc}") from None
        finally:
            connection.close()


class DeliveryFailed(Exception):
    def __init__(self, status: Optional[int], reason: str) -> None:
        super().__init__(reason)
        self.status = status


class Endpoint:
    """One configured endpoint: filter → bounded queue → retrying → HTTP, with its metrics."""

    def __init__(self, config: EndpointConfig, local: Callable[[str], Optional[LocalReceiver]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._sink = HttpSink(config, local)
        self._queue: Deque[Event] = deque()
        self._condition = threading.Condition()
        self._busy = False
        self._closed = False
        self._thread: Optional[threading.Thread] = None
        self._deliveries: Deque[Delivery] = deque(maxlen=DELIVERIES_KEPT)
        self._failures_in_a_row = 0
        self._last_failure = 0.0
        self._now = clock
        # the counters distribution's debug/vars show (notifications.md "Monitoring"), plus dropped
        self.events = self.successes = self.failures = self.errors = self.dropped = self.ignored = 0
        self.statuses: Dict[str, int] = {}

    @property
    def name(self) -> str:
        return self.config.name

    # -- the request side: never blocks on the endpoint -----------------------------------
    def write(self, event: Event) -> None:
        if not self._sink.takes(event):
            return
        if self.config.ignores(event.action, event.media_type):
            self.ignored += 1
            return
        with self._condition:
            if self._closed:
                return
            if len(self._queue) >= self.config.queue_size:
                self.dropped += 1
                return
            self.events += 1
            self._queue.append(event)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"mockreg-notify-{self.name}", daemon=True)
                self._thread.start()
            self._condition.notify_all()

    # -- the worker -----------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._condition:
                if not self._queue and not self._closed:
                    self._condition.wait(IDLE_SECONDS)
                if self._closed or not self._queue:
                    # Idle (or closed): end, so endpoints of registries a test forgot cost no thread.
                    self._thread = None
                    return
                event = self._queue[0]
                self._busy = True
            self._deliver(event)
            with self._condition:
                if self._queue and self._queue[0] is event:
                    self._queue.popleft()
                self._busy = False
                self._condition.notify_all()

    def _deliver(self, event: Event) -> None:
        """distribution retryingSink.Write: retry until delivered or closed, backing off after
        `threshold` failures in a row."""
        attempt = 0
        while True:
            with self._condition:
                while not self._closed and self._failures_in_a_row >= self.config.threshold:
                    wait = self._last_failure + self.config.backoff - self._now()
                    if wait <= 0:
                        break
                    self._condition.wait(wait)
                if self._closed:
                    return
            attempt += 1
            started = self._now()
            try:
                status = self._sink.write(event)
            except DeliveryFailed as failed:
                self._record(event, attempt, failed.status, str(failed) or "failed", started)
                continue
            except Exception as exc:  # a receiver in this process raised: a failed delivery, not a crash
                self._record(event, attempt, None, f"{type(exc).__name__}: {exc}", started)
                continue
            self._record(event, attempt, status, "", started)
            return

    def _record(self, event: Event, attempt: int, status: Optional[int], error: str, started: float) -> None:
        now = self._now()
        with self._condition:
            self._deliveries.append(Delivery(event.id, event.action, attempt, status, error, now - started))
            if status is not None:
                key = _status_text(status)
                self.statuses[key] = self.statuses.get(key, 0) + 1
            if not error:
                self.successes += 1
                self._failures_in_a_row = 0
            else:
                if status is None:
                    self.errors += 1
                else:
                    self.failures += 1
                self._failures_in_a_row += 1
                self._last_failure = now

    # -- what tests and the control API read ----------------------------------------------
    def deliveries(self) -> List[Delivery]:
        """Every attempt, oldest first (the last 1000)."""
        with self._condition:
            return list(self._deliveries)

    @property
    def pending(self) -> int:
        with self._condition:
            return len(self._queue)

    def metrics(self) -> Dict[str, Any]:
        with self._condition:
            return {"pending": len(self._queue), "events": self.events, "successes": self.successes,
                    "failures": self.failures, "errors": self.errors, "dropped": self.dropped,
                    "ignored": self.ignored, "statuses": dict(self.statuses)}

    def flush(self, timeout: float) -> bool:
        """Wait until every queued event was delivered; False if that took longer than `timeout`."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    return not self._queue
                self._condition.wait(left)
        return True

    def close(self) -> None:
        """Stop the worker; events still queued are not delivered (the reference drops them too)."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()


def _status_text(status: int) -> str:
    """`resp.Status` as distribution counts it, e.g. "202 Accepted"."""
    reason = http.client.responses.get(status, "")
    return f"{status} {reason}".strip()
