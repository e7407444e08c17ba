"""The bounded log of recent events that the events extension reads (pages and streams)."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Deque, Dict, List, Optional

from ..errors import RegistryError
from .record import Event

DEFAULT_LOG_SIZE = 10_000


class EventLog:
    """The last `size` events in order; a reader names the last event it saw by its id."""

    def __init__(self, size: int = DEFAULT_LOG_SIZE) -> None:
        if size < 1:
            raise ValueError(f"the event log keeps at least one event, got size={size}")
        self.size = size
        self._events: Deque[Event] = deque()
        self._seq_of: Dict[str, int] = {}
        self._lock = threading.Lock()
        self._condition = threading.Condition(self._lock)
        self._readers = 0  # streams waiting: appends wake them only when there are some
        self.closed = False
        self.evicted = 0

    def append(self, event: Event) -> None:
        with self._lock:
            if len(self._events) == self.size:
                self._seq_of.pop(self._events.popleft().id, None)
                self.evicted += 1
            self._events.append(event)
            self._seq_of[event.id] = event.seq
            if self._readers:
                self._condition.notify_all()

    def after(self, last: Optional[str], repository: Optional[str] = None) -> List[Event]:
        """Events after the one with id `last` (all kept ones when None), optionally of one repository."""
        with self._condition:
            events = list(self._events) if last is None else self._tail(last)
        return [e for e in events if repository is None or e.repository == repository]

    def _tail(self, last: str) -> List[Event]:
        seq = self._seq_of.get(last)
        if seq is None:
            raise RegistryError("UNSUPPORTED", f"last={last!r} names no event this registry still keeps (it keeps "
                                f"the last {self.size}); start again without last", status=400,
                                message="invalid parameter")
        # sequence numbers are contiguous in the log, so the position follows from the first one
        start = seq - self._events[0].seq + 1
        return [self._events[i] for i in range(start, len(self._events))]

    def newest(self) -> Optional[str]:
        with self._condition:
            return self._events[-1].id if self._events else None

    def wait(self, last: Optional[str], timeout: float) -> None:
        """Block until an event newer than `last` arrives, `timeout` passes, or the log closes."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while not self.closed:
                newest = self._events[-1].id if self._events else None
                if newest is not None and newest != last:
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._readers += 1
                try:
                    self._condition.wait(left)
                finally:
                    self._readers -= 1

    def close(self) -> None:
        with self._condition:
            self.closed = True
            self._condition.notify_all()

    def __len__(self) -> int:
        return len(self._events)
