"""The machine's own limits, measured in the same run as everything else.

- sha256: `hashlib.sha256` over the very buffer the big-blob tests push (a registry must hash
  every byte it receives, so no push can beat this rate by much);
- loopback: one process `sendall`s the same number of bytes to another that `recv_into`s a
  reused buffer (no HTTP, no hashing): the most a socket between two processes carries.
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import time

# The sending side, run as a separate process; argv: port, size in bytes, slice in bytes.
_SENDER = """
import os, socket, sys
port, size, piece = (int(a) for a in sys.argv[1:4])
block = os.urandom(1 << 20)
data = memoryview(block * (size // len(block)) + block[: size % len(block)])
with socket.create_connection(("127.0.0.1", port)) as sock:
    for offset in range(0, size, piece):
        sock.sendall(data[offset:offset + piece])
"""

RECV_SLICE = 1 << 20


def sha256_rate(buffer: bytes) -> float:
    """Bytes per second that hashlib.sha256 digests `buffer` at."""
    started = time.perf_counter()
    hashlib.sha256(buffer).digest()
    return len(buffer) / (time.perf_counter() - started)


def loopback_rate(size: int, piece: int = 8 << 20) -> float:
    """Bytes per second a plain TCP socket carries between two processes on 127.0.0.1."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        sender = subprocess.Popen([sys.executable, "-c", _SENDER, str(port), str(size), str(piece)])
        try:
            connection, _ = listener.accept()
            with connection:
                started = time.perf_counter()
                buffer = memoryview(bytearray(RECV_SLICE))
                received = 0
                while received < size:
                    got = connection.recv_into(buffer)
                    if not got:
                        raise RuntimeError(f"loopback sender stopped after {received} of {size} bytes")
                    received += got
                elapsed = time.perf_counter() - started
        finally:
            sender.wait(timeout=60)
    return size / elapsed
