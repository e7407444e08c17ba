"""One controllable clock per registry: real time by default, moved by tests instead of sleeping."""

from __future__ import annotations

import threading
import time
from typing import Optional


class Clock:
    """Seconds since the epoch, as `time.time()` gives them, plus an offset tests control.

    `advance(60)` makes tokens, upload sessions and rate-limit windows age a minute at once;
    `freeze()` stops the clock so timestamps are deterministic.
    """

    def __init__(self, frozen_at: Optional[float] = None) -> None:
        self._offset = 0.0
        self._frozen_at = frozen_at
        self._lock = threading.Lock()

    def now(self) -> float:
        frozen = self._frozen_at
        return frozen if frozen is not None else time.time() + self._offset

    __call__ = now  # the store calls the clock on every upload request: no second frame for it

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
            else:
                self._offset += seconds

    def freeze(self, at: Optional[float] = None) -> None:
        with self._lock:
            self._frozen_at = self.now() if at is None else at

    def unfreeze(self) -> None:
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - time.time()
                self._frozen_at = None
