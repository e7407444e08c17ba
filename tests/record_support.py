"""Record a client operation through `mockreg.record.Recorder`, replay it, compare."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, List, Optional

from mockreg import Registry
from mockreg.journal import attach
from mockreg.record import Recorder, differences, recorded_exchanges
from mockreg.scenario import Scenario
from mockreg.server import LiveServer

Operation = Callable[[str], None]  # does the client's work against host:port
ROOT_CACHE = "/var/lib/containers/cache"  # containers/image's blob-info cache for root


def record(upstream: str, out: Path, operation: Operation, **options) -> Path:
    with Recorder(upstream, out, **options) as recorder:
        operation(recorder.host_port)
    return out


def replay(scenario: Path, operation: Operation, out: Path) -> List[str]:
    """Run `operation` against the replayed scenario (through a second recorder, so both sides
    are seen by the same code); the differences, request by request."""
    registry = Registry()
    Scenario.load(scenario).apply(registry)
    attach(registry)
    with LiveServer(registry) as server:
        record(server.url, out, operation, backfill=False)
    return differences(recorded_exchanges(scenario), recorded_exchanges(out))


def skopeo(*args: str, creds: Optional[str] = None) -> str:
    """Run skopeo with a blob-info cache of its own. skopeo remembers, per registry host:port, which
    repositories hold which blobs, and tries those first (HEADs and mounts); the shared cache would
    make a replay on a reused port ask differently from its recording."""
    command = ["skopeo", *args[:1], "--src-tls-verify=false", "--dest-tls-verify=false", *args[1:]]
    if creds:
        command[2:2] = ["--src-creds", creds, "--dest-creds", creds]
    with tempfile.TemporaryDirectory(prefix="skopeo-cache-") as cache:
        env = {**os.environ, "XDG_DATA_HOME": cache}  # where an unprivileged skopeo keeps it
        if os.geteuid() == 0 and shutil.which("unshare"):
            # as root it is always /var/lib/containers/cache: hide that behind the private directory
            os.makedirs(ROOT_CACHE, exist_ok=True)
            command = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                       f'mount --bind "$0" {ROOT_CACHE} && exec "$@"', cache, *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def written_text(out: Path) -> bytes:
    """Every byte the recording wrote: the scenario and everything in its layout directory."""
    data = out.read_bytes()
    layouts = out.with_name(out.stem + ".layout")
    if layouts.exists():
        for path in sorted(layouts.rglob("*")):
            if path.is_file():
                data += b"\n" + path.read_bytes()
    return data
