"""Blob bytes that may be larger than memory: fixed-size pieces, repeated pieces kept once,
and pieces past a registry-wide memory limit spilled to an unnamed temporary file.

A blob up to one piece (1 MiB, the size the server reads a body in) stays plain `bytes`, as
small blobs always were. A bigger one becomes a `PieceBlob`: a list of 1 MiB pieces, each either
`bytes` in memory or an offset into the blob's temporary file. Why pieces, measured on a 2-core
VM (see the README's Performance section): a slice read from the socket *is* a piece, so a push
copies each byte once instead of twice (read slice, then append to a growing buffer), and a pull
sends pieces without copying them. Why deduplicate pieces: a zero-filled or repetitive blob (the
16 GiB sparse file of oras-py's chunked-push test) then costs one piece, not its size. Why spill:
random content cannot be deduplicated; past `blob_memory_limit` its pieces go to disk (up to
`blob_disk_limit`) and are read back with `os.pread` when served.

Spilled space is returned when nothing holds the blob any more (deleted, registry reset, upload
cancelled, expired or rolled back): CPython frees it the moment the last reference goes. The
temporary files have no name, so even a killed process leaves nothing behind.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from .errors import RegistryError

# One piece: the slice the server reads a body in (http.READ_SLICE), so a slice becomes a piece
# without a copy.
PIECE = 1 << 20
# What a piece is recognised by before a full comparison: three 64-byte samples.
_SAMPLE = 64

Piece = Union[bytes, int]  # bytes in memory, or an offset into the blob's temporary file

# Windows has no positional I/O: there one lock makes each seek-and-transfer a unit (untested).
_POSITIONAL = hasattr(os, "pread")
_seek_lock = threading.Lock()


def _pread(fd: int, size: int, offset: int) -> bytes:
    if _POSITIONAL:
        return os.pread(fd, size, offset)
    with _seek_lock:
        os.lseek(fd, offset, os.SEEK_SET)
        return os.read(fd, size)


def _pwrite(fd: int, data: Any, offset: int) -> int:
    if _POSITIONAL:
        return os.pwrite(fd, data, offset)
    with _seek_lock:
        os.lseek(fd, offset, os.SEEK_SET)
        return os.write(fd, data)


class BlobSpace:
    """What one registry's big blobs take, in memory and on disk, against its two limits
    (callables, so a changed setting applies at once; 0 means no limit)."""

    def __init__(self, memory_limit: Callable[[], int] = lambda: 0,
                 disk_limit: Callable[[], int] = lambda: 0) -> None:
        self.memory_limit = memory_limit
        self.disk_limit = disk_limit
        self.memory = 0
        self.disk = 0
        self._lock = threading.Lock()

    def take_memory(self, size: int, always: bool = False) -> bool:
        """Count `size` bytes as held in memory; False (counting nothing) when that would pass
        the memory limit, unless `always`."""
        limit = self.memory_limit()
        with self._lock:
            if limit and self.memory + size > limit and not always:
                return False
            self.memory += size
            return True

    def take_disk(self, size: int) -> None:
        limit = self.disk_limit()
        with self._lock:
            if limit and self.disk + size > limit:
                raise disk_full(f"{self.disk + size} bytes of spilled blobs would pass blob_disk_limit {limit}")
            self.disk += size

    def give_back(self, memory: int, disk: int) -> None:
        with self._lock:
            self.memory -= memory
            self.disk -= disk


def disk_full(reason: str) -> RegistryError:
    # 403 DENIED as a registry's storage quota answers (Harbor, goharbor/harbor#8688 and #8797):
    # a 5xx would make docker and containerd retry the same push forever.
    return RegistryError("DENIED", f"blob storage is full: {reason}")


class _Holding:
    """The memory and spill file one blob (first as an upload, then stored) holds; given back
    to the BlobSpace when the last reference to it goes."""

    __slots__ = ("space", "memory", "disk", "fd")

    def __init__(self, space: BlobSpace) -> None:
        self.space = space
        self.memory = 0
        self.disk = 0
        self.fd = -1

    def write(self, piece: bytes) -> int:
        """Append `piece` to the spill file; its offset there."""
        self.space.take_disk(len(piece))
        offset = self.disk
        try:
            if self.fd < 0:
                self.fd = _spill_file()
            view = memoryview(piece)
            while view:
                view = view[_pwrite(self.fd, view, offset + len(piece) - len(view)):]
        except OSError as exc:
            self.space.give_back(0, len(piece))
            raise disk_full(f"cannot write a temporary file: {exc}") from None
        self.disk += len(piece)
        return offset

    def read(self, offset: int, size: int) -> bytes:
        data = _pread(self.fd, size, offset)
        if len(data) != size:
            raise OSError(f"spill file holds {len(data)} bytes at {offset}, expected {size}")
        return data

    def truncate(self, memory: int, disk: int) -> None:
        """Back to `memory` held and `disk` bytes written (a rollback)."""
        self.space.give_back(self.memory - memory, self.disk - disk)
        self.memory, self.disk = memory, disk
        if self.fd >= 0:
            os.ftruncate(self.fd, disk)

    def __del__(self) -> None:
        self.space.give_back(self.memory, self.disk)
        if self.fd >= 0:
            os.close(self.fd)


def _spill_file() -> int:
    """A temporary file with no name left on disk: unlinked at once where the system allows it
    (it keeps the name `/proc/<pid>/fd` and lsof show, so the spill is visible to whoever looks),
    else deleted by the system when closed."""
    if os.name == "nt":
        spill = tempfile.TemporaryFile(prefix="mockreg-blob-")
        fd = os.dup(spill.fileno())
        spill.close()
        return fd
    fd, path = tempfile.mkstemp(prefix="mockreg-blob-")
    os.unlink(path)
    return fd


class PieceBlob:
    """A stored blob bigger than one piece; read it with `slices` (or `bytes(blob)`, which
    builds the whole blob in memory)."""

    __slots__ = ("_pieces", "_size", "_holding")

    def __init__(self, pieces: List[Piece], size: int, holding: _Holding) -> None:
        self._pieces = pieces
        self._size = size
        self._holding = holding

    def __len__(self) -> int:
        return self._size

    def __bytes__(self) -> bytes:
        return b"".join(self.slices(0, self._size))

    def slices(self, start: int, end: int) -> Iterator[bytes]:
        """The bytes [start, end) in pieces, without copying those held in memory."""
        for number in range(start // PIECE, (end - 1) // PIECE + 1 if end > start else 0):
            piece = self._pieces[number]
            if not isinstance(piece, bytes):
                length = min(PIECE, self._size - number * PIECE)
                piece = self._holding.read(piece, length)
            low, high = max(start - number * PIECE, 0), min(end - number * PIECE, len(piece))
            yield piece if low == 0 and high == len(piece) else piece[low:high]

    @property
    def spilled(self) -> int:
        """Bytes this blob keeps in its temporary file."""
        return self._holding.disk


BlobBytes = Union[bytes, bytearray, PieceBlob]


def slices(data: BlobBytes, start: int, end: int, size: int = PIECE) -> Iterator[bytes]:
    """The bytes [start, end) of any stored blob, in slices of at most `size`, never copying a
    whole blob."""
    if isinstance(data, PieceBlob):
        yield from data.slices(start, end)
    elif isinstance(data, bytes) and start == 0 and end == len(data):
        yield data
    else:
        with memoryview(data) as view:
            for offset in range(start, end, size):
                yield bytes(view[offset:min(end, offset + size)])


def window(data: BlobBytes, start: int, end: int) -> Union[bytes, memoryview]:
    """The bytes [start, end) of a stored blob as one buffer: a view where the blob is one buffer,
    else those pieces joined (only that window is copied)."""
    if isinstance(data, PieceBlob):
        return b"".join(data.slices(start, end))
    return memoryview(data)[start:end]


def digest_of(data: Union[BlobBytes, BlobBuilder], hasher: Any) -> str:
    """`hasher` fed with every byte of `data`, as hex."""
    for piece in (data.slices() if isinstance(data, BlobBuilder) else slices(data, 0, len(data))):
        hasher.update(piece)
    return hasher.hexdigest()


class Reader(io.RawIOBase):
    """A stored blob as a file, for tar writers and the like; never copies the whole blob."""

    def __init__(self, data: BlobBytes) -> None:
        super().__init__()
        self._data = data
        self._position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        end = min(self._position + len(target), len(self._data))
        done = 0
        for piece in slices(self._data, self._position, end):
            target[done:done + len(piece)] = piece
            done += len(piece)
        self._position += done
        return done


# (pieces, tail length, size, memory held, spill bytes): where an upload stood before a request.
Mark = Tuple[int, int, int, int, int]


class BlobBuilder:
    """An upload's bytes as they arrive: whole pieces plus an incomplete last one (`tail`).

    One writer at a time (the upload's lock); `mark`/`rollback` undo a failed request exactly.
    """

    __slots__ = ("_space", "_pieces", "_tail", "size", "_holding", "_seen")

    def __init__(self, space: BlobSpace) -> None:
        self._space = space
        self._pieces: List[Piece] = []
        self._tail: Union[bytes, bytearray] = b""
        self.size = 0
        self._holding: Optional[_Holding] = None
        self._seen: Dict[bytes, int] = {}  # samples of a piece -> the first piece number with them

    def __len__(self) -> int:
        return self.size

    def __bytes__(self) -> bytes:
        return b"".join(self.slices())

    def room(self) -> int:
        """How much to read next so that a full read completes a piece (and needs no copy)."""
        return PIECE - len(self._tail)

    def append(self, data: bytes) -> None:
        self.size += len(data)
        tail = self._tail
        if not tail:
            if len(data) == PIECE and isinstance(data, bytes):
                self._add(data)
                return
            if len(data) < PIECE:
                self._tail = data
                return
        if not isinstance(tail, bytearray):
            tail = bytearray(tail)
        view = memoryview(data)
        while view:
            room = PIECE - len(tail)
            tail += view[:room]
            view = view[room:]
            if len(tail) == PIECE:
                self._add(bytes(tail))
                tail = bytearray()
        self._tail = tail

    def _add(self, piece: bytes) -> None:
        """Add a full piece: the earlier piece it repeats, else in memory, else spilled."""
        middle = PIECE // 2
        samples = piece[:_SAMPLE] + piece[middle:middle + _SAMPLE] + piece[-_SAMPLE:]
        holding = self._holding
        if holding is None:
            holding = self._holding = _Holding(self._space)
        earlier = self._seen.get(samples)
        if earlier is not None:
            known = self._pieces[earlier]
            if (known if isinstance(known, bytes) else holding.read(known, PIECE)) == piece:
                self._pieces.append(known)
                return
        else:
            self._seen[samples] = len(self._pieces)
        if self._space.take_memory(PIECE):
            holding.memory += PIECE
            self._pieces.append(piece)
        else:
            self._pieces.append(holding.write(piece))

    def _piece(self, number: int) -> bytes:
        piece = self._pieces[number]
        return piece if isinstance(piece, bytes) else self._holding.read(piece, PIECE)  # type: ignore[union-attr]

    def slices(self) -> Iterator[bytes]:
        for number in range(len(self._pieces)):
            yield self._piece(number)
        if self._tail:
            yield bytes(self._tail)

    def mark(self) -> Mark:
        holding = self._holding
        return (len(self._pieces), len(self._tail), self.size,
                holding.memory if holding else 0, holding.disk if holding else 0)

    def rollback(self, mark: Mark) -> None:
        """Back to exactly where `mark` was taken: bytes, memory and disk held, repeat index."""
        pieces, tail, size, memory, disk = mark
        if len(self._pieces) > pieces:
            # The tail of then is the start of the first piece added since.
            self._tail = bytearray(self._piece(pieces)[:tail]) if tail else b""
            del self._pieces[pieces:]
            self._seen = {k: n for k, n in self._seen.items() if n < pieces}
        elif isinstance(self._tail, bytearray):
            del self._tail[tail:]
        else:
            self._tail = self._tail[:tail]
        self.size = size
        if self._holding is not None:
            self._holding.truncate(memory, disk)

    def freeze(self) -> BlobBytes:
        """The finished blob: plain bytes up to one piece, else a PieceBlob sharing these pieces."""
        if not self._pieces:
            return bytes(self._tail)
        pieces, holding = list(self._pieces), self._holding
        assert holding is not None  # every piece was added through _add
        if self._tail:
            last = bytes(self._tail)
            pieces.append(last)
            self._space.take_memory(len(last), always=True)  # less than a piece: not worth a spill
            holding.memory += len(last)
        return PieceBlob(pieces, self.size, holding)
