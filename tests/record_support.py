"""Record a client operation through `mockreg.record.Recorder`, replay it, compare."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Callable, List, Optional

from mockreg import Registry
from mockreg.journal import attach
from mockreg.record import Recorder, differences, recorded_exchanges
from mockreg.scenario import Scenario
from mockreg.server import LiveServer

Operation = Callable[[str], None]  # does the client's work against host:port


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
    command = ["skopeo", *args[:1], "--src-tls-verify=false", "--dest-tls-verify=false", *args[1:]]
    if creds:
        command[2:2] = ["--src-creds", creds, "--dest-creds", creds]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
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
