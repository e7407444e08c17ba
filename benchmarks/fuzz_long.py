"""The long reliability run: the stateful fuzzers, the hostile-request fuzzer and the concurrent
stress workload, in rounds, until at least `--requests` requests were sent (default 100,000).

Prints one line per round and a summary: requests, server errors (a 500 no fault rule asked
for, or an exception inside mockreg), answers that broke the error-body rules, model and
invariant violations. Exits 1 unless all are 0. The same `--seed` gives the same rounds.
With `--live`, every request goes over the wire to a live server (`LiveServer`): the hostile
requests of each registry flavour, then the stress workload; a manifest the spec forbids but the
registry accepted counts as a violation.

    python benchmarks/fuzz_long.py --requests 100000 --seed 1
    python benchmarks/fuzz_long.py --requests 3000 --seed 1 --live
"""

from __future__ import annotations

import argparse
import http.client
import random
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, List, Optional, Sequence
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import hypothesis.core  # noqa: E402
import test_fuzz_stateful as stateful  # noqa: E402
from fuzz_support import answer_problems, bearer_tokens, fuzz_requests, send  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from stress_workload import run as run_stress  # noqa: E402
from werkzeug.test import Client  # noqa: E402

from mockreg.invariants import check_invariants  # noqa: E402
from mockreg.server import LiveServer  # noqa: E402


@dataclass
class Tally:
    requests: int = 0
    server_errors: List[str] = field(default_factory=list)
    bad_answers: List[str] = field(default_factory=list)
    violations: List[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.requests += other.requests
        self.server_errors += other.server_errors
        self.bad_answers += other.bad_answers
        self.violations += other.violations

    def line(self) -> str:
        return (f"{self.requests:>7} requests, {len(self.server_errors)} server errors, "
                f"{len(self.bad_answers)} bad error bodies, {len(self.violations)} invariant/model violations")


def _sort(problems: Sequence[str], tally: Tally) -> None:
    for problem in problems:
        if "server error" in problem or problem.startswith("5"):
            tally.server_errors.append(problem)
        else:
            tally.bad_answers.append(problem)


def stateful_round(machine: Any, examples: int, steps: int) -> Tally:
    """Sequences against the model; a failure (wrong answer, model or invariant mismatch, 500)
    is shrunk by hypothesis and reported with its minimal sequence."""
    tally = Tally()

    class Counted(machine):  # type: ignore[misc, valid-type]
        def teardown(self) -> None:
            tally.requests += self.requests
            errors = list(self.registry.server_errors)
            tally.server_errors += [f"server error {e!r}" for e in errors]

    Counted.TestCase.settings = settings(max_examples=examples, stateful_step_count=steps, deadline=None,
                                         database=None, suppress_health_check=list(HealthCheck))
    try:
        Counted.TestCase().runTest()
    except Exception as exc:
        tally.violations.append(f"{machine.__name__}: {exc}"[:4000])
    return tally


def hostile_round(flavour: str, examples: int) -> Tally:
    """Random hostile requests against one long-lived registry of a flavour, invariants after each."""
    tally = Tally()
    registry = stateful.REGISTRIES[flavour]()
    registry.push_blob("m/a", b"known blob")
    client = Client(registry)

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(request=fuzz_requests(authorizations=bearer_tokens(registry)))
    def one(request: Any) -> None:
        response = send(client, request)
        tally.requests += 1
        _sort(answer_problems(registry, request, response), tally)
        tally.violations += [f"{problem} (after {request})" for problem in check_invariants(registry)]

    one()
    return tally


class LiveSender:
    """Sends fuzz requests over one keep-alive connection to a live server, reconnecting after a
    close; answers look like the test client's (status_code, headers, data) for the rules."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.sock: Optional[socket.socket] = None

    def send(self, request: Any) -> Any:
        target = quote(request.path, safe="/%:@!*&=+$,;~") + ("?" + urlencode(request.query) if request.query else "")
        head = [f"{request.method} {target} HTTP/1.1", "Host: mockreg.fuzz", f"Content-Length: {len(request.body)}"]
        head += [f"{key}: {value}" for key, value in request.headers.items()]
        raw = ("\r\n".join(head) + "\r\n\r\n").encode("utf-8") + request.body
        if self.sock is None:
            self.sock = socket.create_connection((self.server.host, self.server.port), timeout=60)
        self.sock.sendall(raw)
        response = http.client.HTTPResponse(self.sock, method=request.method)
        response.begin()
        data = response.read()
        if response.will_close:
            self.close()
        return SimpleNamespace(status_code=response.status, headers=response.headers, data=data)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def live_hostile_round(flavour: str, examples: int) -> Tally:
    """The hostile round, over the wire to a live server."""
    tally = Tally()
    registry = stateful.REGISTRIES[flavour]()
    registry.push_blob("m/a", b"known blob")
    with LiveServer(registry) as server:
        sender = LiveSender(server)

        @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(request=fuzz_requests(authorizations=bearer_tokens(registry)))
        def one(request: Any) -> None:
            try:
                response = sender.send(request)
            except (OSError, http.client.HTTPException) as exc:
                sender.close()
                tally.requests += 1
                tally.server_errors.append(f"no answer ({exc!r}) for {request}")
                return
            tally.requests += 1
            _sort(answer_problems(registry, request, response), tally)
            tally.violations += [f"{problem} (after {request})" for problem in check_invariants(registry)]

        one()
        sender.close()
    return tally


def stress_round(seconds: float, threads: int, seed: int) -> Tally:
    from mockreg import Registry

    tally = Tally()
    registry = Registry()
    with LiveServer(registry) as server:
        report, _ = run_stress(server.url, threads=threads, seconds=seconds, seed=seed)
    tally.requests = report.requests
    tally.server_errors += [f"server error {e!r}" for e in registry.server_errors]
    tally.bad_answers += [v for v in report.violations if " -> 5" not in v]
    tally.server_errors += [v for v in report.violations if " -> 5" in v]
    tally.violations += check_invariants(registry, open_uploads=False)
    return tally


def rounds(args: argparse.Namespace, rng: random.Random) -> List[Callable[[], Tally]]:
    machines = [stateful.RegistryMachine, stateful.AuthExtensionsFaultsMachine, stateful.SmallLimitsMachine]
    plan: List[Callable[[], Tally]] = []
    if args.live:
        plan += [lambda f=f: live_hostile_round(f, args.examples * 10) for f in sorted(stateful.REGISTRIES)]
        plan.append(lambda: stress_round(args.stress_seconds, args.threads, rng.randrange(1 << 30)))
        return plan
    plan += [lambda m=m: stateful_round(m, args.examples, args.steps) for m in machines]
    plan += [lambda f=f: hostile_round(f, args.examples * 10) for f in sorted(stateful.REGISTRIES)]
    plan.append(lambda: stress_round(args.stress_seconds, args.threads, rng.randrange(1 << 30)))
    return plan


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000, help="stop once this many were sent")
    parser.add_argument("--seed", type=int, default=1, help="seeds hypothesis and the stress workload")
    parser.add_argument("--examples", type=int, default=200, help="sequences per stateful round")
    parser.add_argument("--steps", type=int, default=50, help="steps per sequence")
    parser.add_argument("--stress-seconds", type=float, default=10.0, help="length of each stress round")
    parser.add_argument("--threads", type=int, default=8, help="client threads in each stress round")
    parser.add_argument("--live", action="store_true", help="every request over the wire to a live server")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    # Hypothesis draws each test's seed from this generator when not derandomized (as its pytest
    # plugin's --hypothesis-seed does), so the same --seed replays the same rounds.
    hypothesis.core.threadlocal._hypothesis_global_random = random.Random(args.seed)
    total, started, number = Tally(), time.perf_counter(), 0
    while total.requests < args.requests:
        for index, job in enumerate(rounds(args, rng)):
            if total.requests >= args.requests:
                break
            number += 1
            began = time.perf_counter()
            result = job()
            total.add(result)
            kinds = _LIVE_KINDS if args.live else _KINDS
            print(f"round {number:>3} ({kinds[index]:<28}) {result.line()}  [{time.perf_counter() - began:.1f} s]",
                  flush=True)
    print(f"\nTOTAL {total.line()} in {time.perf_counter() - started:.0f} s (seed {args.seed})")
    for label, found in (("server errors", total.server_errors), ("bad error bodies", total.bad_answers),
                         ("violations", total.violations)):
        for problem in found[:10]:
            print(f"{label}: {problem}")
    return 0 if not (total.server_errors or total.bad_answers or total.violations) else 1


_KINDS = ["stateful plain", "stateful auth+ext+faults", "stateful small limits",
          *[f"hostile {f}" for f in sorted(stateful.REGISTRIES)], "stress (live server)"]
_LIVE_KINDS = [*[f"live hostile {f}" for f in sorted(stateful.REGISTRIES)], "stress (live server)"]

if __name__ == "__main__":
    sys.exit(main())
