"""Where each tag of a repository pointed, over time: bounded, oldest moves dropped first.

A `TagHistory` maps tag -> its moves `(time, digest)`, oldest first; a deletion is recorded as
digest "". It keeps at most `limit` moves per tag and the histories of at most `limit` deleted
tags (the tags deleted longest ago are forgotten first), so a client that moves or creates and
deletes tags forever cannot grow it without bound. `dropped` counts the moves forgotten.
It reads like the plain `Dict[str, List[(time, digest)]]` it replaces.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Deque, Dict, Tuple

Move = Tuple[float, str]


class TagHistory(Dict[str, Deque[Move]]):
    """tag -> moves, oldest first; record moves with `record`, never by assignment."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0
        self._deleted: OrderedDict[str, None] = OrderedDict()  # deleted tags, longest ago first

    def record(self, tag: str, when: float, digest: str, limit: int) -> None:
        """Append a move (digest "" for a deletion), keeping within `limit` (0: no bound)."""
        moves = self.get(tag)
        if moves is None or moves.maxlen != (limit or None):  # first move, or the setting changed
            kept = list(moves or ())[-limit:] if limit else list(moves or ())
            self.dropped += len(moves or ()) - len(kept)
            moves = self[tag] = deque(kept, maxlen=limit or None)
        if moves.maxlen is not None and len(moves) == moves.maxlen:
            self.dropped += 1
        moves.append((when, digest))
        self._deleted.pop(tag, None)
        if digest:
            return
        self._deleted[tag] = None
        while limit and len(self._deleted) > limit:
            forgotten, _ = self._deleted.popitem(last=False)
            self.dropped += len(self.pop(forgotten))
