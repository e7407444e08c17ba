"""How fast scenario files load, and what a large generated layer costs in memory.

    python benchmarks/scenario_load.py [--quick] [--json PATH]

1. A scenario of 100 images x 3 small layers: `Scenario.load` (parse, validate, build content)
   and `apply` to a fresh registry, medians of several runs. Target: well under 50 ms.
2. A scenario with one large generated layer (1 GiB; 256 MiB with --quick), loaded and applied
   in a child process: wall time and peak memory above the interpreter's idle size, as a ratio
   to the layer size. Target: one copy (ratio close to 1.0).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mockreg import Registry  # noqa: E402
from mockreg.scenario import Scenario  # noqa: E402

_CHILD = """
import resource, sys, time
sys.path.insert(0, {root!r})
from mockreg import Registry
from mockreg.scenario import Scenario
idle = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
scenario = Scenario.load({path!r})
registry = Registry()
scenario.apply(registry)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(seconds, (peak - idle) * 1024)
"""


def many_images(directory: Path) -> Path:
    lines = ["version: 1", "repositories:"]
    for repo in range(10):
        lines += [f"  bench/repo{repo}:", "    images:"]
        for image in range(10):
            lines.append(f"      - {{tags: [v{image}], "
                         f"layers: [{{size: 1024}}, {{size: 2048}}, {{text: layer{image}}}]}}")
    path = directory / "many.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def large_layer(directory: Path, size: int) -> Path:
    path = directory / "large.yaml"
    path.write_text(f"version: 1\nrepositories:\n  bench/large:\n    images:\n      - tags: [big]\n"
                    f"        layers: [{{size: {size}, seed: big}}]\n")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller layer, fewer repetitions")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    repetitions = 5 if args.quick else 15
    size = (256 if args.quick else 1024) << 20
    with tempfile.TemporaryDirectory() as tmp:
        many = many_images(Path(tmp))
        loads, applies = [], []
        for _ in range(repetitions):
            start = time.perf_counter()
            scenario = Scenario.load(many)
            loads.append(time.perf_counter() - start)
            start = time.perf_counter()
            scenario.apply(Registry())
            applies.append(time.perf_counter() - start)
        code = _CHILD.format(root=str(ROOT), path=str(large_layer(Path(tmp), size)))
        child = subprocess.run([sys.executable, "-c", code],
                               check=True, capture_output=True, text=True)
        seconds, extra = (float(x) for x in child.stdout.split())
    figures = {
        "many_images_load_ms": statistics.median(loads) * 1000,
        "many_images_apply_ms": statistics.median(applies) * 1000,
        "large_layer_bytes": size,
        "large_layer_load_s": seconds,
        "large_layer_peak_over_idle_ratio": extra / size,
    }
    print(f"100 images x 3 layers: load {figures['many_images_load_ms']:.1f} ms, "
          f"apply to a fresh registry {figures['many_images_apply_ms']:.1f} ms (target: load+apply < 50 ms)")
    print(f"{size >> 20} MiB generated layer: {seconds:.2f} s, peak memory above idle "
          f"{figures['large_layer_peak_over_idle_ratio']:.2f} x the layer (target: about 1 copy)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
