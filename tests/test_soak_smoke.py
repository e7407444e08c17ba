"""The soak benchmark (benchmarks/soak.py) and the live fuzz run (benchmarks/fuzz_long.py --live)
work end to end in their quick forms. Nothing here is timed: the figures are for people to read
(README "Performance", docs/reliability.md); what must hold is that the scripts run, check every
answer and report what the issue asks for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_quick_soak_reports_rss_samples_and_finds_nothing_unexpected(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "soak.py"), "--requests", "3000",
                             "--json", str(out)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["requests"] >= 3000 and report["unexpected"] == []
    assert len(report["samples"]) >= 2 and all(sample["rss"] > 0 for sample in report["samples"])
    assert report["store_held_at_end"].endswith(("B", "KiB", "MiB")) and "manifests" in report["store_held_at_end"]
    assert report["rate_limit_windows"] > 0
    assert "growth after warm-up" in result.stdout and "unexpected answers: 0" in result.stdout


def test_live_fuzz_run_sends_over_the_wire_and_reports_zero_problems(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "fuzz_long.py"), "--requests", "150",
                             "--seed", "3", "--live", "--examples", "2", "--stress-seconds", "0.3"],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "live hostile plain" in result.stdout and "stress (live server)" in result.stdout
    assert "0 server errors, 0 bad error bodies, 0 invariant/model violations" in result.stdout.split("TOTAL")[1]
