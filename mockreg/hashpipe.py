"""An upload's running hash, computed on a helper thread one slice behind the reader.

hashlib releases the GIL, so a big body is received on one core and hashed on the other. The
pipeline lives as long as its upload, not its request: a PATCH is answered as soon as its last
slice is *read*, while that slice is still being hashed, and the next request on the upload
queues its slices behind it. Whatever needs the hash itself waits for it to settle: the closing
PUT (`settle`), a status request or cancel (they settle too, so they never see a half-done
state), and a request that fails part-way (`restore` to the `mark` taken before it).

One producer at a time: the upload's own lock (or a request that owns its pipeline) ensures it.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Deque, Optional

# How long the helper thread waits for the next slice before it ends: long enough to span the
# gap between one PATCH and the next, short enough that an abandoned upload holds no thread.
_LINGER = 0.05
# Slices queued at most (the one being hashed included): the reader waits beyond that, so an
# upload never holds more than this in flight besides its own bytes.
_DEPTH = 2


class Snapshot:
    """The hasher's state at a `mark`, filled in once everything queued before it is hashed."""

    __slots__ = ("hasher",)

    def __init__(self, hasher: Any = None) -> None:
        self.hasher = hasher


class HashPipeline:
    def __init__(self, hasher: Any) -> None:
        self._hasher = hasher
        # Made when the first slice is queued: a small body, hashed inline, never needs it.
        self._cond: Optional[threading.Condition] = None
        self._queue: Deque[Any] = deque()  # slices and Snapshots in order; the head is in work
        self._worker = False  # a helper thread is running (always true while the queue has items)
        self._failure: Optional[BaseException] = None

    def update(self, data: bytes, inline: bool = False) -> None:
        """Hash `data` after everything queued before it. With `inline` and nothing queued,
        hash it right here: a small body never starts a thread."""
        if inline and not self._queue:
            self._hasher.update(data)
            return
        if self._cond is None:
            self._cond = threading.Condition(threading.Lock())
        with self._cond:
            while len(self._queue) >= _DEPTH:
                self._cond.wait()
            self._enqueue(data)

    def _enqueue(self, item: Any) -> None:
        """Queue `item`; call it holding the condition."""
        assert self._cond is not None
        self._queue.append(item)
        if self._worker:
            self._cond.notify_all()
        else:
            self._worker = True
            threading.Thread(target=self._run, name="mockreg-hash", daemon=True).start()

    def _run(self) -> None:
        cond, queue = self._cond, self._queue
        assert cond is not None
        while True:
            with cond:
                if not queue:
                    cond.wait(_LINGER)
                    if not queue:
                        self._worker = False
                        return
                item = queue[0]
            try:
                if isinstance(item, Snapshot):
                    item.hasher = self._hasher.copy()
                elif self._failure is None:
                    self._hasher.update(item)
            except BaseException as exc:  # handed to whoever settles next
                self._failure = exc
            with cond:
                queue.popleft()
                cond.notify_all()

    def mark(self) -> Snapshot:
        """Where the hash stands after everything queued so far, for `restore`; never waits."""
        if not self._queue:  # nothing in work: only this producer could add any
            return Snapshot(self._hasher.copy())
        assert self._cond is not None
        with self._cond:
            snapshot = Snapshot()
            self._enqueue(snapshot)
            return snapshot

    def wait(self) -> None:
        """Wait until every queued slice is hashed."""
        if not self._queue:
            return
        assert self._cond is not None
        with self._cond:
            while self._queue:
                self._cond.wait()

    def settle(self) -> Any:
        """Wait until every queued slice is hashed; the hasher (raises what hashing raised)."""
        self.wait()
        if self._failure is not None:
            raise self._failure
        return self._hasher

    def restore(self, snapshot: Snapshot) -> None:
        """Undo every update since `snapshot` was marked (after they are done)."""
        self.wait()
        self._hasher = snapshot.hasher
        self._failure = None
