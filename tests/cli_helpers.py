"""`mockreg serve` as the tests of the command line run it: a real child process, or `main()` in
this process stopped by a real SIGTERM, with what it printed kept for assertions; and the reference
registry (docker-registry) the seed and record tests talk to."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence

import pytest
import requests

from mockreg.cli import main


class ServeProcess:
    """`python -m mockreg serve --port 0 …` with its stderr drained into `stderr_lines`."""

    def __init__(self, *options: str, cwd: Optional[Path] = None) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "mockreg", "serve", "--port", "0", *options],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
        self.stderr_lines: List[str] = []
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()
        self.ready_line = self._first_stdout_line(timeout=30)
        if "://" not in self.ready_line:
            self.process.kill()
            self._drain.join(5)
            raise RuntimeError(f"mockreg serve did not start: {self.ready_line!r}\n" + "".join(self.stderr_lines))
        self.url = self.ready_line.rsplit(" ", 1)[-1].strip()
        self.host_port = self.url.split("://", 1)[1]

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr_lines.append(line)

    def _first_stdout_line(self, timeout: float) -> str:
        found: List[str] = []
        reader = threading.Thread(target=lambda: found.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        return found[0] if found else ""

    def stderr_until(self, predicate: Callable[[str], bool], timeout: float = 5) -> List[str]:
        """stderr lines once one satisfies `predicate` (the log line of a request is written
        after its response, so a client may see the answer first)."""
        deadline = time.monotonic() + timeout
        while not any(predicate(line) for line in list(self.stderr_lines)):
            if time.monotonic() > deadline:
                raise AssertionError("expected line never came; stderr so far:\n" + "".join(self.stderr_lines))
            time.sleep(0.01)
        return list(self.stderr_lines)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._drain.join(5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return code


@contextmanager
def serve_processes() -> Iterator[Callable[..., ServeProcess]]:
    """A starter of `mockreg serve` processes; each is stopped on exit."""
    started: List[ServeProcess] = []

    def start(*options: str, cwd: Optional[Path] = None) -> ServeProcess:
        started.append(ServeProcess(*options, cwd=cwd))
        return started[-1]

    try:
        yield start
    finally:
        for served in started:
            served.stop()


def serve_in_process(ready_file: Path, options: Sequence[str], talk: Callable[[str], None]) -> int:
    """Run `main(["serve", …])` here; once it is ready, `talk(url)` runs in a thread and then
    the process sends itself SIGTERM, exactly what stops a real `mockreg serve`."""
    failures: List[BaseException] = []

    def drive() -> None:
        deadline = time.monotonic() + 30
        while not ready_file.exists():
            if time.monotonic() > deadline:
                return  # serve never got ready (main returns its error); do not signal anyone
            time.sleep(0.01)
        try:
            talk(ready_file.read_text().strip())
        except BaseException as exc:  # re-raised in the test's thread below
            failures.append(exc)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    code = main(["serve", "--port", "0", "--ready-file", str(ready_file), *options])
    driver.join(10)
    if failures:
        raise failures[0]
    return code


def required_tool(name: str) -> str:
    """The path of a command-line client; CI must have it (.ci/run installs it), elsewhere skip."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required in CI (.ci/run installs it)")
        pytest.skip(f"{name} is not installed (apt-get install {name})")
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def distribution_registry(tmp_path: Path, extra: str = "", scheme: str = "http",
                          ca: Optional[str] = None) -> Iterator[str]:
    """Debian's docker-registry (distribution 2.8) on 127.0.0.1 and a free port, `extra` appended to
    its config; yields its URL once /v2/ answers. Its storage is a directory in tmp_path: the
    `inmemory` driver of 2.8 answers tags/list with NAME_UNKNOWN."""
    binary = required_tool("docker-registry")
    port = _free_port()
    config = tmp_path / "config.yml"
    config.write_text("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                      f"storage:\n  filesystem:\n    rootdirectory: {tmp_path / 'storage'}\n"
                      f"http:\n  addr: 127.0.0.1:{port}\n{extra}")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"{scheme}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{url}/v2/", timeout=5, verify=ca or True).status_code in (200, 401):
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"docker-registry did not start: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stderr.close()
