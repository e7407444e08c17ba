"""What the pytest plugin costs a test: a fresh registry, and an in-process request against a
loopback one, measured in one run.

    python -m benchmarks.plugin_costs [--quick]

Targets (issue "pytest plugin"): a fresh registry <= 0.2 ms; an in-process request <= 1/3 of a
loopback request through the same client. Issue 16: a pytest session that uses no mockreg
fixture pays <= 10 ms for the plugin (it is loaded into every session where mockreg is installed).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import requests

from mockreg.content import push_image
from mockreg.inprocess import RequestsRouter, httpx_client
from mockreg.registry import Registry
from mockreg.server import LiveServer
from mockreg.session import LiveRegistry, fresh_registry

PATH = "/v2/demo/app/manifests/1.0"
ACCEPT = {"Accept": "application/vnd.oci.image.manifest.v1+json"}


def per_call(action: Callable[[], object], number: int, repeat: int = 5) -> float:
    """Best-of-`repeat` seconds per call of `action`."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            action()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def compare(local: Callable[[], object], remote: Callable[[], object], number: int,
            repeat: int = 7) -> Tuple[float, float]:
    """Best seconds per call of each, measured in alternation so both see the same machine load."""
    best_local = best_remote = float("inf")
    for _ in range(repeat):
        best_local = min(best_local, per_call(local, number, repeat=1))
        best_remote = min(best_remote, per_call(remote, number, repeat=1))
    return best_local, best_remote


def registry_costs(number: int) -> List[Tuple[str, float]]:
    server = LiveServer(Registry()).start()
    try:
        def swap() -> None:
            LiveRegistry(server, fresh_registry()).serve().release()
        return [
            ("Registry()", per_call(Registry, number)),
            ("fresh registry + journal (the mockreg fixture's work)", per_call(fresh_registry, number)),
            ("... and handing it to the live server (mockreg_server)", per_call(swap, number)),
        ]
    finally:
        server.stop()


def request_costs(number: int) -> List[Tuple[str, float, Optional[float]]]:
    """(client, in-process seconds, loopback seconds) for one small manifest GET."""
    registry = fresh_registry()
    push_image(registry, "demo/app:1.0", layers=[1024])
    rows = []
    with LiveServer(registry) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port)

        def loopback_raw() -> None:
            connection.request("GET", PATH, headers=ACCEPT)
            connection.getresponse().read()

        def wsgi_call() -> None:
            environ = {"REQUEST_METHOD": "GET", "PATH_INFO": PATH, "QUERY_STRING": "",
                       "HTTP_ACCEPT": ACCEPT["Accept"], "wsgi.input": io.BytesIO(b"")}
            b"".join(registry(environ, lambda status, headers, exc_info=None: None))
        rows.append(("WSGI call vs http.client (no client: the floor)", *compare(wsgi_call, loopback_raw, number)))
        connection.close()

        with requests.Session() as session, RequestsRouter(registry) as router:
            router.allow(server.url)
            in_process_url, loopback_url = router.url + PATH, server.url + PATH
            rows.append(("requests.Session (responses) vs keep-alive",
                         *compare(lambda: session.get(in_process_url, headers=ACCEPT),
                                  lambda: session.get(loopback_url, headers=ACCEPT), number)))
            with requests.Session() as bare:
                bare.mount("http://", _AnswerAtOnce())
                floor = per_call(lambda: bare.get(in_process_url, headers=ACCEPT), number, repeat=7)
            rows.append(("  requests' own work (a transport doing nothing)", floor, None))
            rows.append(("requests.get, a Session per call (python-dxf)",
                         *compare(lambda: requests.get(in_process_url, headers=ACCEPT),
                                  lambda: requests.get(loopback_url, headers=ACCEPT), number)))

        import httpx

        with httpx_client(registry) as local, httpx.Client(base_url=server.url) as remote:
            rows.append(("httpx.Client (WSGITransport) vs keep-alive",
                         *compare(lambda: local.get(PATH, headers=ACCEPT), lambda: remote.get(PATH, headers=ACCEPT),
                                  number)))
    return rows


class _AnswerAtOnce(requests.adapters.BaseAdapter):
    """A transport that does nothing: what is left is the work `requests` itself does per call."""

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        response = requests.Response()
        response.status_code, response._content, response.request, response.url = 200, b"{}", request, request.url
        return response

    def close(self) -> None:
        return None


def journal_cost(number: int) -> Tuple[float, float]:
    plain, journaled = Registry(), fresh_registry()
    for registry in (plain, journaled):
        push_image(registry, "demo/app:1.0", layers=[1024])

    def call(registry: Registry) -> Callable[[], object]:
        def once() -> object:
            environ = {"REQUEST_METHOD": "GET", "PATH_INFO": PATH, "QUERY_STRING": "", "wsgi.input": io.BytesIO()}
            return b"".join(registry(environ, lambda status, headers, exc_info=None: None))
        return once
    return per_call(call(plain), number), per_call(call(journaled), number)


# What the plugin's import costs in a fresh interpreter that already imported pytest (as a pytest
# session has when it loads plugins); "used" adds what the fixtures import when a test asks for them.
_IMPORT_PROBE = """
import sys, time
import pytest
start = time.perf_counter()
import mockreg.pytest_plugin
if sys.argv[1] == "used":
    import mockreg.session, mockreg.inprocess, mockreg.server, mockreg.scenario
print(time.perf_counter() - start)
"""


def plugin_import_seconds(used: bool, repeat: int = 5) -> float:
    """Best-of-`repeat` seconds to import the plugin (and, if `used`, what its fixtures import)."""
    command = [sys.executable, "-c", _IMPORT_PROBE, "used" if used else "unused"]
    return min(float(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
               for _ in range(repeat))


def session_with_and_without_plugin(repeat: int = 5) -> Tuple[float, float]:
    """Best wall seconds of a one-test pytest session that uses no mockreg fixture, with the plugin
    loaded (its entry point) and with `-p no:mockreg`, run in alternation."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "test_plain.py").write_text("def test_plain():\n    assert True\n")
        base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_plain.py"]
        best_with = best_without = float("inf")
        for _ in range(repeat):
            for plugin_off, in ((False,), (True,)):
                started = time.perf_counter()
                subprocess.run(base + (["-p", "no:mockreg"] if plugin_off else []), check=True, cwd=folder,
                               stdout=subprocess.DEVNULL)
                took = time.perf_counter() - started
                if plugin_off:
                    best_without = min(best_without, took)
                else:
                    best_with = min(best_with, took)
    return best_with, best_without


_TIMING_CONFTEST = """
import json, os, time
from collections import defaultdict

import pytest

TOTALS = defaultdict(float)


@pytest.fixture
def noop():
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start = time.perf_counter()
    yield
    if item.callspec.params["n"]:  # round 0 warms up (first imports, first server start)
        TOTALS[item.callspec.params["kind"]] += time.perf_counter() - start


def pytest_sessionfinish(session):
    with open(os.environ["MOCKREG_BENCH_OUT"], "w") as out:
        json.dump(TOTALS, out)
"""


def pytest_overhead(tests: int) -> List[Tuple[str, float]]:
    """Per-test cost of each fixture inside one real pytest run. Tests asking for each fixture
    are interleaved, so machine load falls on all alike; a do-nothing fixture is the baseline."""
    kinds = ["noop", "mockreg", "mockreg_server", "mockreg_requests"]
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "conftest.py").write_text(_TIMING_CONFTEST)
        (Path(folder) / "test_costs.py").write_text(textwrap.dedent(f"""
            import pytest

            @pytest.mark.parametrize("n, kind", [(n, k) for n in range({tests} + 1) for k in {kinds!r}])
            def test_cost(request, n, kind):
                request.getfixturevalue(kind)
        """))
        out = Path(folder) / "totals.json"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:hypothesispytest", "-p", "no:cacheprovider",
                   "-p", "no:randomly", "test_costs.py"]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=folder,
                       env={**os.environ, "MOCKREG_BENCH_OUT": str(out)})
        totals = json.loads(out.read_text())
    rows = [("a do-nothing fixture (pytest's whole per-test cost)", totals["noop"] / tests)]
    rows += [(f"{kind} (beyond a do-nothing fixture)", (totals[kind] - totals["noop"]) / tests) for kind in kinds[1:]]
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    quick = parser.parse_args(argv).quick
    number = 200 if quick else 2000

    print("Plugin import in a pytest session (target: unused <= 10 ms)")
    repeat = 3 if quick else 7
    unused = plugin_import_seconds(False, repeat)
    print(f"  {'import mockreg.pytest_plugin, no fixture used':58s} {unused * 1e3:8.2f} ms")
    print(f"  {'... and what the fixtures import once a test uses one':58s} "
          f"{plugin_import_seconds(True, repeat) * 1e3:8.2f} ms")
    with_plugin, without = session_with_and_without_plugin(repeat)
    print(f"  {'one-test session: with plugin / -p no:mockreg':58s} {with_plugin * 1e3:8.1f} ms / "
          f"{without * 1e3:.1f} ms (+{(with_plugin - without) * 1e3:.1f} ms)")

    print("\nFresh registry (target <= 200 us)")
    for label, seconds in registry_costs(number):
        print(f"  {label:58s} {seconds * 1e6:8.1f} us")

    print("\nPer-test overhead in a real pytest run")
    for label, seconds in pytest_overhead(200 if quick else 2000):
        print(f"  {label:58s} {seconds * 1e6:8.1f} us")

    print("\nOne small manifest GET: in process vs loopback (target: ratio <= 0.33)")
    print(f"  {'client':48s} {'in-process':>12s} {'loopback':>12s} {'ratio':>7s}")
    for label, local, remote in request_costs(number // 4):
        if remote is None:
            print(f"  {label:48s} {local * 1e6:9.1f} us {'-':>12s} {'-':>7s}")
        else:
            print(f"  {label:48s} {local * 1e6:9.1f} us {remote * 1e6:9.1f} us {local / remote:7.2f}")

    plain, journaled = journal_cost(number)
    print(f"\nJournal: {plain * 1e6:.1f} us per request without, {journaled * 1e6:.1f} us with "
          f"(+{(journaled - plain) * 1e6:.1f} us)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
