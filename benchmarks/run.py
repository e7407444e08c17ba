#!/usr/bin/env python
"""Benchmark mockreg against the reference registry and the machine's own limits.

    python benchmarks/run.py [--quick] [--json PATH] [--no-peer] [--only N ...]

Runs every measurement interleaved (mockreg, reference, floor, mockreg, …) for several
repetitions, prints a Markdown table of medians with their ratios and targets, and writes
JSON (default benchmarks/results/latest.json). The reference is Debian's `docker-registry`
(distribution 2.8) with in-memory storage; without it the run carries on with no peer ratios.
Section 3 also pushes to ggcr's in-memory registry (`crane registry serve`) when `crane` is on
PATH or named in MOCKREG_BENCH_CRANE.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import observers, procs
from benchmarks.report import Results, Row
from benchmarks.sections import Benchmark, Plan

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "latest.json"


FULL = Plan(repetitions=5, sequential_requests=2000, concurrent_seconds=1.0, connections=8, images=200,
            blob_mib=256, chunk_mib=8, upload_cap=5.0, pull_setup_cap=120.0, startups=7, in_process_requests=1000,
            quiet_wait=30.0, zero_gib=16, spill_gib=4, spill_limit_mib=256)
QUICK = Plan(repetitions=3, sequential_requests=300, concurrent_seconds=0.2, connections=8, images=30,
             blob_mib=48, chunk_mib=8, upload_cap=1.0, pull_setup_cap=5.0, startups=3, in_process_requests=100,
             quiet_wait=0.0, zero_gib=1, spill_gib=1, spill_limit_mib=64)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few repetitions (< 60 s)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where to write results ({DEFAULT_JSON})")
    parser.add_argument("--no-peer", action="store_true",
                        help="skip the reference registry and crane even if installed")
    parser.add_argument("--only", type=int, action="append", choices=range(1, 7), metavar="N",
                        help="run only section N (repeatable); default: all six")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    results = Results()
    peer_binary = None if args.no_peer else procs.find_peer()
    if peer_binary is None and not args.no_peer:
        print(f"reference registry not found; for peer ratios install it: {procs.PEER_INSTALL_HINT}", flush=True)
        results.notes.append("reference registry not installed: no peer figures")
    crane_binary = None if args.no_peer else procs.find_crane()
    if crane_binary is None and not args.no_peer:
        print(f"crane not found; for ggcr ratios {procs.GGCR_INSTALL_HINT}", flush=True)
        results.notes.append("crane not found: no ggcr figures")
    load_before = os.getloadavg()[0]
    if load_before > 0.5:
        print(f"warning: load average {load_before:.1f} before starting: other work on this machine skews "
              "every figure (ratios are paired per repetition, which helps but does not cure it)", flush=True)
    started = time.perf_counter()
    mockreg, floor = procs.start_mockreg(), procs.start_floor()
    peer = procs.start_peer(peer_binary) if peer_binary else None
    ggcr = procs.start_crane(crane_binary) if crane_binary else None
    try:
        bench = Benchmark(plan, results, mockreg, peer, floor, peer_binary, ggcr)
        sections: Dict[str, List[Row]] = {}
        for title, section in (("1. start-up and per-test cost", bench.startup),
                               ("2. small requests, one keep-alive connection / concurrent", bench.small_requests),
                               ("3. push workflow", bench.push_workflow),
                               ("4. big blobs", bench.big_blobs),
                               ("5. in-process vs loopback", bench.in_process),
                               ("6. observers and layers: cost off and on", lambda: observers.section(bench))):
            if args.only and int(title[0]) not in args.only:
                continue
            print(f"… {title}", end="", flush=True)
            section_started = time.perf_counter()
            sections[title] = section()
            print(f" ({time.perf_counter() - section_started:.1f} s)", flush=True)
    finally:
        for server in (mockreg, peer, floor, ggcr):
            if server is not None:
                server.stop()
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "plan": plan.__dict__, "quick": args.quick, "seconds": round(time.perf_counter() - started, 1),
        "peer": procs.peer_version(peer_binary) if peer_binary else None,
        "ggcr": procs.crane_version(crane_binary) if crane_binary else None,
        "load_average": {"before": load_before, "after": os.getloadavg()[0]},
    }
    table = results.table(sections)
    print(table)
    print(f"\n{meta['date']}, {meta['machine']['cores']} cores, Python {meta['machine']['python']}, "
          f"reference: {meta['peer'] or 'not run'}, crane: {meta['ggcr'] or 'not run'}, {meta['seconds']} s, "
          f"load average {load_before:.1f} before / {meta['load_average']['after']:.1f} after")
    busy = results.figures.get("machine.busy")
    if busy is not None and busy.value is not None:
        print(f"other work on the machine before a repetition: median {busy.value:.0f}%, "
              f"worst {max(busy.samples):.0f}% of all cores")
    for note in results.notes:
        print(f"note: {note}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    document = results.to_json(sections, meta)
    document["table"] = table
    args.json.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
