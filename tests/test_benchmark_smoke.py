"""Smoke tests of the benchmark (benchmarks/run.py): it runs end to end and writes every figure.

No timing is asserted: machines differ, and the numbers are for people to read (README
"Performance"). What must hold is that the script works and reports everything the issue asks for.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `benchmarks` is a folder of the repository, not of the package

from benchmarks import bigblobs, procs, wire  # noqa: E402

KINDS = ("head", "get", "tags")
REQUIRED = [
    # 1. start-up and per-test cost
    "mockreg.startup.serve", "baseline.startup.werkzeug", "mockreg.pertest.registry", "mockreg.pertest.swap",
    "mockreg.pertest.live_ready",
    # 2. small requests: sequential µs, server CPU, concurrent req/s, each against the floor
    *[f"{who}.seq.{kind}" for who in ("mockreg", "floor") for kind in KINDS],
    "mockreg.cpu.head", "floor.cpu.head",
    *[f"{who}.concurrent.{kind}" for who in ("mockreg", "floor") for kind in KINDS],
    # 3. push workflow
    "mockreg.push.images",
    # 4. big blobs and the machine's limits
    "limit.sha256", "limit.loopback", "limit.pull",
    "mockreg.blob.mono", "mockreg.blob.chunked", "mockreg.blob.pull", "mockreg.mem.mono", "mockreg.mem.chunked",
    # 5. in-process against loopback, through both clients
    *[f"mockreg.{where}.{client}.{kind}" for where in ("inprocess", "live") for client in ("requests", "httpx")
      for kind in KINDS],
    # 6. observers and layers, off and on (in process)
    *[f"mockreg.observers.{name}" for name in ("plain", "events_off", "profile_off", "journal", "events_log",
                                               "events_webhook", "checks_on", "profile_quirks")],
]


def test_quick_run_prints_the_table_and_writes_every_figure(tmp_path):
    out = tmp_path / "results.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick", "--no-peer", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    document = json.loads(out.read_text())

    figures = document["figures"]
    missing = [key for key in REQUIRED if figures.get(key, {}).get("value") is None]
    assert missing == []
    for key, figure in figures.items():
        if figure["samples"]:
            assert len(figure["samples"]) >= 1 and figure["unit"], key
            assert figure["value"] >= 0 if figure["unit"] == "MiB" else figure["value"] > 0, key
    assert not [key for key, figure in figures.items() if key.startswith("peer.") and figure["samples"]]

    ratios = document["ratios"]
    targeted = {name: ratio for name, ratio in ratios.items() if ratio["target"]}
    assert len(targeted) >= 15  # every target of the issue that needs no peer, and section 6's "off" rows
    assert all(ratio["value"] is not None and ratio["met"] in (True, False) for ratio in targeted.values())

    assert document["quick"] is True and document["machine"]["cores"] >= 1 and document["date"]
    for title in ("1. start-up", "2. small requests", "3. push workflow", "4. big blobs", "5. in-process",
                  "6. observers and layers"):
        assert title in result.stdout and title in document["table"]


@pytest.mark.skipif(procs.find_peer() is None,
                    reason=f"the reference registry is not installed ({procs.PEER_INSTALL_HINT})")
def test_the_reference_registry_does_the_same_work():
    peer = procs.start_peer(procs.find_peer())
    try:
        wire.seed_small(peer.host_port)
        for request in wire.SMALL_REQUESTS:
            seconds, cpu = wire.sequential(peer.host_port, request.method, request.path, 10, peer.cpu_seconds)
            assert seconds > 0 and cpu is not None and cpu >= 0
        blob = bytearray(os.urandom(1 << 20) * 2)
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        pushed = bigblobs.push_chunked(peer.host_port, "bench/big", memoryview(blob), digest, 1 << 20, cap=60)
        assert not pushed.capped
        assert bigblobs.pull(peer.host_port, "bench/big", digest, len(blob)).rate > 0  # digest checked inside
    finally:
        peer.stop()


FAKE_CRANE = """#!{python}
# Answers like `crane registry serve --address HOST:PORT` and `crane version`, serving mockreg:
# what the benchmark does with a real crane, without one on the machine.
import os, sys
if sys.argv[1:] == ["version"]:
    print("fake crane 0.0")
    sys.exit(0)
assert sys.argv[1:4] == ["registry", "serve", "--address"], sys.argv
host, port = sys.argv[4].rsplit(":", 1)
# exec, so that the process the benchmark reads CPU time from is the server, as with crane
os.execv(sys.executable, [sys.executable, "-m", "mockreg", "serve", "--host", host, "--port", port, "--quiet"])
"""


def test_section_3_measures_ggcr_when_crane_is_named(tmp_path):
    crane = tmp_path / "crane"
    crane.write_text(FAKE_CRANE.format(python=sys.executable))
    crane.chmod(0o755)
    out = tmp_path / "results.json"
    environment = dict(os.environ, MOCKREG_BENCH_CRANE=str(crane), PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick", "--only", "3", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=environment)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    document = json.loads(out.read_text())
    assert document["ggcr"] == "fake crane 0.0"
    figures = document["figures"]
    for key in ("ggcr.push.images", "ggcr.push.cpu"):
        assert figures[key]["value"] > 0
    names = {(ratio["of"], ratio["to"], ratio["target"]) for ratio in document["ratios"].values()}
    assert ("mockreg.push.images", "ggcr.push.images", ">= 1") in names
    assert ("mockreg.push.cpu", "ggcr.push.cpu", "<= 1") in names
    assert "| ggcr " in document["table"]  # the third column names what it holds


def test_section_3_without_crane_says_so(tmp_path):
    out = tmp_path / "results.json"
    environment = dict(os.environ, MOCKREG_BENCH_CRANE="", PATH=os.path.dirname(sys.executable))
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick", "--only", "3", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=environment)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    document = json.loads(out.read_text())
    assert "crane not found: no ggcr figures" in document["notes"]
    assert not [key for key in document["figures"] if key.startswith("ggcr.")]
