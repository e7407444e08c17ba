"""`mockreg serve` as a real child process: the ready line, the request log, and a clean
shutdown with a summary on SIGTERM and SIGINT."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from cli_helpers import serve_processes

from mockreg.scenario import Scenario

QUICKSTART = Path(__file__).resolve().parent.parent / "fixtures" / "quickstart.yaml"
LOG_LINE = re.compile(r'(?P<time>\S+) (?P<remote>\S+) "(?P<method>[A-Z]+) (?P<target>\S+) HTTP/1\.1" '
                      r"(?P<status>\d{3}) (?P<bytes>\d+) (?P<ms>\d+\.\d\d)ms"
                      r"(?: (?P<repository>\S+))?(?: (?P<digest>\S+))?")

@pytest.fixture
def serve():
    with serve_processes() as start:
        yield start



@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_process_logs_requests_and_stops_cleanly(serve, signum):
    served = serve("--scenario", str(QUICKSTART))
    assert re.fullmatch(r"mockreg serving on http://127\.0\.0\.1:\d+\n", served.ready_line)
    scenario = Scenario.load(QUICKSTART)
    digest = scenario.digest("demo/app:1.0")
    blobs = {blob.digest for row in scenario.summary()
             for blob in scenario.content(f"{row['repository']}@{row['name']}").blobs}
    with requests.Session() as session:  # keep-alive: both requests on one connection
        assert session.get(f"{served.url}/v2/demo/app/manifests/{digest}").status_code == 200
        pushed = session.post(f"{served.url}/v2/new/app/blobs/uploads/?digest=sha256:{'0' * 64}", data=b"x")
        assert pushed.status_code == 400
    lines = served.stderr_until(lambda line: "POST" in line)
    entries = [LOG_LINE.fullmatch(line.rstrip("\n")) for line in lines if '"' in line]
    assert all(entries), lines
    get, post = (entry.groupdict() for entry in entries)
    assert get["method"] == "GET" and get["status"] == "200" and get["repository"] == "demo/app"
    assert get["digest"] == digest and get["target"] == f"/v2/demo/app/manifests/{digest}"
    assert post["status"] == "400" and post["repository"] == "new/app" and post["remote"] == "127.0.0.1"
    assert served.stop(signum) == 0
    assert served.stderr_lines[-1].startswith("mockreg: stopped: served 2 requests; held 2 repositories, "
                                              f"3 manifests, {len(blobs)} blobs, ")
    assert not any("Traceback" in line for line in served.stderr_lines)


def test_bad_option_in_a_real_process_is_one_line_and_exit_2():
    result = subprocess.run([sys.executable, "-m", "mockreg", "serve", "--prot", "5000"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == "mockreg serve: error: unrecognized arguments: --prot 5000 (see mockreg serve --help)\n"


def test_python_dash_m_mockreg_help_works():
    result = subprocess.run([sys.executable, "-m", "mockreg", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: mockreg [-h] COMMAND ...")
    for command in ("serve", "seed", "export", "scenario"):
        assert f"    {command} " in result.stdout
