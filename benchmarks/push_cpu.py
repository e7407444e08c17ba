#!/usr/bin/env python
"""CPU nanoseconds per byte of a big push, server and client, for two clients: this benchmark's
(digest computed before the push) and one that hashes each slice as it sends it.

    python benchmarks/push_cpu.py [--mib 256] [--repetitions 3]

CPU time (the server's from /proc/<pid>/stat, which keeps the time of ended threads; the
client's from getrusage) does not depend on what else the machine runs the way rates do, so
this tells which part of a push/sha256 ratio is the client's method and which is mockreg's
(see the docstring of bigblobs.py).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import procs
from benchmarks.wire import call, connect, digest_of, location_path, with_digest

MiB = 1 << 20
CHUNK = 8 * MiB


def server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def push(host_port: str, data: memoryview, chunked: bool, hash_while_sending: bool, digest: str) -> None:
    """One push; a hashing client PATCHes the whole body (it learns the digest only at the end)."""
    connection = connect(host_port)
    hasher = hashlib.sha256()
    location = call(connection, "POST", "/v2/bench/cpu/blobs/uploads/", expect=(202,)).headers["Location"]
    pieces = range(0, len(data), CHUNK) if chunked or hash_while_sending else [0]
    for offset in pieces:
        piece = data[offset:offset + CHUNK] if len(pieces) > 1 else data
        last = not (chunked or hash_while_sending)
        connection.putrequest("PUT" if last else "PATCH",
                              with_digest(location_path(location), digest) if last else location_path(location))
        connection.putheader("Content-Length", str(len(piece)))
        if chunked:
            connection.putheader("Content-Range", f"{offset}-{offset + len(piece) - 1}")
        connection.endheaders()
        for start in range(0, len(piece), CHUNK):
            part = piece[start:start + CHUNK]
            if hash_while_sending:
                hasher.update(part)
            connection.sock.sendall(part)
        response = connection.getresponse()
        response.read()
        location = response.headers.get("Location", location)
    if chunked or hash_while_sending:
        if hash_while_sending and "sha256:" + hasher.hexdigest() != digest:
            raise RuntimeError("client hash differs")
        call(connection, "PUT", with_digest(location_path(location), digest), expect=(201,))
    call(connection, "DELETE", f"/v2/bench/cpu/blobs/{digest}", expect=(202,))
    connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    size = args.mib * MiB
    blob = bytearray(os.urandom(size))
    server = procs.start_mockreg()
    figures: Dict[str, List[float]] = {}
    try:
        for _ in range(args.repetitions):
            started = time.thread_time()
            hashlib.sha256(blob).digest()
            figures.setdefault("sha256 alone (client thread)", []).append((time.thread_time() - started) / size * 1e9)
            for hashing in (False, True):
                for chunked in (False, True):
                    blob[:16] = os.urandom(16)
                    digest = digest_of(blob)  # before the measurement: only the push is counted
                    server_before, client_before = server_cpu(server.pid), client_cpu()
                    push(server.host_port, memoryview(blob), chunked, hashing, digest)
                    name = f"{'hashing' if hashing else 'benchmark'} client, {'chunked' if chunked else 'monolithic'}"
                    figures.setdefault(f"{name}: server", []).append(
                        (server_cpu(server.pid) - server_before) / size * 1e9)
                    figures.setdefault(f"{name}: client", []).append((client_cpu() - client_before) / size * 1e9)
    finally:
        server.stop()
    for name, values in figures.items():
        print(f"{name:45s} {statistics.median(values):5.2f} ns/B  {[round(v, 2) for v in values]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
