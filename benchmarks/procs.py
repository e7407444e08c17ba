"""The servers under test as child processes, and what /proc says about them.

Every server runs in its own process so that the client (this process) and the server each
have a core, and so the server's CPU time and memory can be read from /proc.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional

FLOOR_SCRIPT = Path(__file__).with_name("floor_server.py")
PEER_INSTALL_HINT = "apt-get install -y docker-registry  (Debian/Ubuntu; distribution 2.8)"
GGCR_INSTALL_HINT = ("put go-containerregistry's `crane` on PATH (a release binary from "
                     "https://github.com/google/go-containerregistry/releases) or name it in MOCKREG_BENCH_CRANE")


class ServerProcess:
    """A server started as a child process, reachable at `host_port`."""

    def __init__(self, name: str, process: subprocess.Popen, host_port: str,
                 workdir: Optional[tempfile.TemporaryDirectory] = None) -> None:
        self.name = name
        self.process = process
        self.host_port = host_port
        self._workdir = workdir

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        """CPU time of the process's live threads, in nanosecond resolution (schedstat).

        /proc/<pid>/stat counts in 10 ms ticks, too coarse for a few thousand requests; threads
        that end drop out of this sum, so compare two readings only while the same threads live
        (one keep-alive connection, as `wire.sequential` does)."""
        total = 0
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, IndexError, ValueError):
                continue  # the thread ended meanwhile
        return total / 1e9

    def memory(self, key: str = "VmRSS") -> int:
        """A /proc/<pid>/status figure in bytes (VmRSS now, VmHWM peak since the last reset)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
        raise KeyError(key)

    def reset_peak_memory(self) -> bool:
        """Restart VmHWM from the current RSS (Linux clear_refs); False where not permitted."""
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self._workdir is not None:
            self._workdir.cleanup()


SERVE = [sys.executable, "-m", "mockreg", "serve", "--port", "0"]


def start_mockreg(*options: str) -> ServerProcess:
    """`python -m mockreg serve --port 0 --quiet [options]`, as a user runs it, without the request
    log (the reference registry runs with its access log off too)."""
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(SERVE + ["--quiet", *options], stdout=subprocess.PIPE, stderr=errors, text=True)
        try:
            return ServerProcess("mockreg", process, _announced_host_port(process))
        except RuntimeError:
            errors.seek(0)
            if "--quiet" not in errors.read():
                raise
    # an older mockreg, whose serve has no --quiet and no request log
    process = subprocess.Popen(SERVE, stdout=subprocess.PIPE, text=True)
    return ServerProcess("mockreg", process, _announced_host_port(process))


def start_floor() -> ServerProcess:
    """The canned-answer http.server: the least any Python server here can cost."""
    process = subprocess.Popen([sys.executable, str(FLOOR_SCRIPT)], stdout=subprocess.PIPE, text=True)
    return ServerProcess("floor", process, _announced_host_port(process))


def _announced_host_port(process: subprocess.Popen) -> str:
    line = process.stdout.readline() if process.stdout else ""
    if "://" not in line:
        process.kill()
        raise RuntimeError(f"server did not announce its URL, said {line!r}")
    return line.strip().split("://", 1)[1].rstrip("/")


def find_peer() -> Optional[str]:
    """The reference registry binary (Debian names it docker-registry), or None."""
    for name in ("docker-registry", "registry"):
        path = shutil.which(name)
        if path:
            return path
    return None


def find_crane() -> Optional[str]:
    """go-containerregistry's `crane` (its `registry serve` is ggcr's in-memory registry), or None."""
    named = os.environ.get("MOCKREG_BENCH_CRANE")
    return named if named and os.access(named, os.X_OK) else shutil.which("crane")


def crane_version(binary: str) -> str:
    return _version_of([binary, "version"])


def start_crane(binary: str) -> ServerProcess:
    """`crane registry serve` on 127.0.0.1, as a user runs ggcr's in-memory registry. It logs
    every request to stderr and has no switch to stop that, so its stderr goes to /dev/null."""
    port = free_port()
    process = subprocess.Popen([binary, "registry", "serve", "--address", f"127.0.0.1:{port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return _when_ready(ServerProcess("ggcr", process, f"127.0.0.1:{port}"))


def peer_version(binary: str) -> str:
    return _version_of([binary, "--version"])


def _version_of(argv: List[str]) -> str:
    try:
        answer = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return answer.stdout.strip() or "unknown"


def start_peer(binary: str) -> ServerProcess:
    """The reference registry on 127.0.0.1 with in-memory storage, delete enabled, no access log."""
    port = free_port()
    workdir = tempfile.TemporaryDirectory(prefix="mockreg-bench-peer-")
    config = Path(workdir.name, "config.yml")
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n  accesslog:\n    disabled: true\n"
        "storage:\n  inmemory: {}\n  delete:\n    enabled: true\n"
        "  maintenance:\n    uploadpurging:\n      enabled: false\n"
        f"http:\n  addr: 127.0.0.1:{port}\n")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, cwd=workdir.name)
    return _when_ready(ServerProcess("peer", process, f"127.0.0.1:{port}", workdir))


def _when_ready(server: ServerProcess) -> ServerProcess:
    """`server` once GET /v2/ answers 200; stopped, and the failure raised, if it never does."""
    try:
        wait_for_200(server.host_port, timeout=30, process=server.process)
    except BaseException:
        server.stop()
        raise
    return server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_200(host_port: str, timeout: float, process: Optional[subprocess.Popen] = None,
                 path: str = "/v2/") -> float:
    """Poll GET `path` until it answers 200; returns the time it happened (perf_counter)."""
    deadline = time.perf_counter() + timeout
    while True:
        try:
            connection = http.client.HTTPConnection(host_port, timeout=timeout)
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            connection.close()
            if response.status == 200:
                return time.perf_counter()
        except OSError:
            pass
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {path}")
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no 200 from {host_port}{path} within {timeout}s")
        time.sleep(0.001)


def spawn_to_ready(argv: List[str]) -> float:
    """Seconds from spawning `mockreg serve` to its first 200 on /v2/."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    server = ServerProcess("startup", process, "")
    try:
        server.host_port = _announced_host_port(process)
        ready = wait_for_200(server.host_port, timeout=30, process=process)
    finally:
        server.stop()
    return ready - started


def spawn_to_exit(argv: List[str]) -> float:
    """Seconds from spawning `argv` to its exit (the bare-import baseline)."""
    started = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - started


# A test module for `ready_inside_pytest`: each test starts a LiveServer, as the plugin's session
# fixture does, and appends the seconds until its first 200 to the file named in the environment.
_READY_TEST = """
import http.client, os, time
import pytest
from mockreg import Registry
from mockreg.server import LiveServer

@pytest.mark.parametrize("repetition", range(int(os.environ["MOCKREG_BENCH_REPETITIONS"])))
def test_live_server_ready(repetition):
    started = time.perf_counter()
    server = LiveServer(Registry()).start()
    try:
        connection = http.client.HTTPConnection(server.host_port)
        connection.request("GET", "/v2/")
        response = connection.getresponse()
        response.read()
        ready = time.perf_counter() - started
        connection.close()
    finally:
        server.stop()
    assert response.status == 200
    with open(os.environ["MOCKREG_BENCH_OUT"], "a") as out:
        out.write(f"{ready}\\n")
"""


def ready_inside_pytest(repetitions: int) -> List[float]:
    """Seconds from `LiveServer(...).start()` to its first 200, inside a running pytest (with
    mockreg's plugin loaded), once per repetition."""
    with tempfile.TemporaryDirectory(prefix="mockreg-bench-pytest-") as directory:
        Path(directory, "test_ready.py").write_text(_READY_TEST)
        out = Path(directory, "ready.txt")
        env = dict(os.environ, MOCKREG_BENCH_OUT=str(out), MOCKREG_BENCH_REPETITIONS=str(repetitions))
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                        "test_ready.py"], cwd=directory, env=env, check=True, stdout=subprocess.DEVNULL)
        return [float(line) for line in out.read_text().split()]


def busy_fraction(interval: float = 0.25) -> float:
    """Fraction of all cores busy during `interval` (from /proc/stat): between measurements,
    when nothing of the benchmark runs, that is other work on the machine."""
    def sample() -> tuple:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields), idle
    total_before, idle_before = sample()
    time.sleep(interval)
    total_after, idle_after = sample()
    spent = total_after - total_before
    return 1.0 - (idle_after - idle_before) / spent if spent else 0.0


def wait_for_quiet(max_wait: float, threshold: float = 0.15) -> float:
    """Wait (at most `max_wait` seconds) until other work leaves the cores idle; returns the
    busy fraction seen last, so a run can say how quiet it was."""
    deadline = time.perf_counter() + max_wait
    busy = busy_fraction()
    while busy > threshold and time.perf_counter() < deadline:
        time.sleep(0.5)
        busy = busy_fraction()
    return busy
