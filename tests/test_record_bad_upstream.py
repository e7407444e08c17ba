"""A bad upstream (unreachable, TLS failing, not a registry) gives the client an OCI error and
the user a clear line, and the recording so far is still written. Plus: blobs stream through
the proxy without being held whole, and the command line."""

from __future__ import annotations

import hashlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tracemalloc

import pytest
import requests
import yaml

from mockreg import Registry
from mockreg.record import Recorder
from mockreg.server import LiveServer
from mockreg.tls import self_signed


def test_an_unreachable_upstream_is_a_502_with_oci_json_and_the_file_is_still_written(tmp_path):
    registry = Registry()
    registry.push_blob("demo/app", b"{}")
    lines = []
    with LiveServer(registry) as server:
        recorder = Recorder(server.url, tmp_path / "rec.yaml", say=lines.append).start()
        assert requests.get(f"{recorder.url}/v2/demo/app/tags/list").status_code == 200  # recorded
        server.stop()  # the upstream goes away mid-recording
        answer = requests.get(f"{recorder.url}/v2/demo/app/tags/list")
        recorder.stop()
    assert answer.status_code == 502
    error = answer.json()["errors"][0]
    assert error["code"] == "UNAVAILABLE" and "cannot reach http://127.0.0.1" in error["detail"]
    assert any("upstream error on GET /v2/demo/app/tags/list: cannot reach" in line for line in lines)
    document = yaml.safe_load((tmp_path / "rec.yaml").read_text())
    assert [e["status"] for e in document["recorded"]["exchanges"]] == [200]
    assert document["recorded"]["problems"][0].startswith("cannot reach http://127.0.0.1")


def test_a_tls_failure_names_the_remedy(tmp_path):
    tls = self_signed(tmp_path / "ca", "127.0.0.1")
    with LiveServer(Registry(), ssl_context=tls.context) as server:
        with Recorder(server.url, tmp_path / "rec.yaml") as recorder:
            answer = requests.get(f"{recorder.url}/v2/")
        with Recorder(server.url, tmp_path / "trusted.yaml", ca_file=str(tls.ca_file)) as trusted:
            assert requests.get(f"{trusted.url}/v2/").status_code == 200
    assert answer.status_code == 502 and "--ca-file" in answer.json()["errors"][0]["detail"]
    problems = yaml.safe_load((tmp_path / "rec.yaml").read_text())["recorded"]["problems"]
    assert "TLS with https://127.0.0.1" in problems[0]


class _WebPage(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # http.server names it so
        body = b"<html><body>Not Found</body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_an_upstream_that_is_not_a_registry_is_reported(tmp_path):
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _WebPage)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        with Recorder(f"http://127.0.0.1:{web.server_port}", tmp_path / "rec.yaml") as recorder:
            answer = requests.get(f"{recorder.url}/v2/")
    finally:
        web.shutdown()
        web.server_close()
    assert answer.status_code == 502
    assert answer.json()["errors"][0]["detail"].endswith("does not answer like a registry: GET /v2/ gave 404 text/html")
    assert (tmp_path / "rec.yaml").exists()


def test_a_path_outside_the_api_is_an_oci_404(tmp_path):
    with LiveServer(Registry()) as server, Recorder(server.url, tmp_path / "rec.yaml") as recorder:
        answer = requests.get(f"{recorder.url}/elsewhere")
    assert answer.status_code == 404 and answer.json()["errors"][0]["code"] == "UNSUPPORTED"


def test_a_large_blob_streams_through_without_being_held_whole(tmp_path):
    size = 32 * 1024 * 1024
    registry = Registry()
    digest = registry.push_blob("demo/big", os.urandom(size))
    with LiveServer(registry) as server, Recorder(server.url, tmp_path / "rec.yaml") as recorder:
        tracemalloc.start()
        try:
            with requests.get(f"{recorder.url}/v2/demo/big/blobs/{digest}", stream=True) as answer:
                received = sum(len(chunk) for chunk in answer.iter_content(1 << 16))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert received == size
    assert peak < size // 4  # the proxy relays 64 KiB pieces; the bytes go to a file, not memory
    layout_blob = tmp_path / "rec.layout" / "demo" / "big" / "blobs" / "sha256" / digest.split(":")[1]
    assert layout_blob.stat().st_size == size


def test_a_large_upload_streams_through_without_a_second_copy(tmp_path):
    size = 32 * 1024 * 1024
    data = os.urandom(size)
    source = tmp_path / "blob"
    source.write_bytes(data)
    del data
    registry = Registry()
    with LiveServer(registry) as server, Recorder(server.url, tmp_path / "rec.yaml") as recorder:
        started = requests.post(f"{recorder.url}/v2/demo/big/blobs/uploads/")
        digest = "sha256:" + hashlib.sha256(source.read_bytes()).hexdigest()
        tracemalloc.start()
        try:
            with source.open("rb") as body:
                put = requests.put(f"{recorder.url}{started.headers['Location']}&digest={digest}"
                                   if "?" in started.headers["Location"] else
                                   f"{recorder.url}{started.headers['Location']}?digest={digest}", data=body)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert put.status_code == 201
    assert peak < size * 1.5  # the upstream keeps its one copy (1.15x measured); a second copy would be 2x


def test_the_command_records_until_interrupted(tmp_path):
    registry = Registry()
    registry.push_blob("demo/app", b"hello")
    with LiveServer(registry) as server:
        ready = tmp_path / "url"
        process = subprocess.Popen([sys.executable, "-m", "mockreg", "record", "--upstream", server.url,
                                    "--out", str(tmp_path / "rec.yaml"), "--port", "0", "--ready-file", str(ready)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            while not ready.exists() and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.05)
            url = ready.read_text().strip()
            assert requests.get(f"{url}/v2/").status_code == 200
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, err
    assert out == f"mockreg recording on {url} (upstream {server.url})\n"
    assert f"mockreg: wrote {tmp_path / 'rec.yaml'}: 1 exchange" in err
    assert not ready.exists()
    assert yaml.safe_load((tmp_path / "rec.yaml").read_text())["recorded"]["upstream"] == server.url


@pytest.mark.parametrize("argv, message", [
    (["--upstream", "ftp://x", "--out", "o.yaml"], "expected an upstream registry URL"),
    (["--upstream", "http://x", "--out", "o.yaml", "--user", "nopassword"], "--user takes NAME:PASSWORD"),
    (["--upstream", "http://x", "--out", "o.yaml", "--user", "a:b", "--token", "t"], "not allowed with"),
])
def test_bad_options_are_one_line_and_exit_2(argv, message, capsys):
    from mockreg.cli import main

    assert main(["record", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_port_in_use_is_exit_1(capsys):
    from mockreg.cli import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert main(["record", "--upstream", "http://127.0.0.1:1", "--out", "o.yaml", "--port",
                     str(busy.getsockname()[1])]) == 1
    assert "cannot listen on 127.0.0.1:" in capsys.readouterr().err




def test_an_error_quoting_a_signed_url_is_recorded_without_its_query():
    from mockreg.record.upstream import reason

    error = Exception("HTTPSConnectionPool(host='s3.example', port=443): Max retries exceeded with url: "
                      "/bucket/blob?X-Amz-Signature=s3cr3t&X-Amz-Credential=AKIAEXAMPLE (Caused by timeout)")
    assert reason(error) == ("HTTPSConnectionPool(host='s3.example', port=443): Max retries exceeded with url: "
                             "/bucket/blob?… (Caused by timeout)")
