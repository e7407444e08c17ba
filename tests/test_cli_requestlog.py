"""The request log `mockreg serve` writes: one whole line per request, after the body is sent."""

from __future__ import annotations

import io
import json
import re
import threading

import pytest
import requests
from werkzeug.test import Client

from mockreg import Registry
from mockreg.requestlog import RequestLog
from mockreg.server import LiveServer

LINE = re.compile(r'\S+ \S+ "(?P<method>\S+) (?P<target>\S+) \S+" (?P<status>\d+) (?P<bytes>\d+) [\d.]+ms'
                  r"(?: (?P<repository>\S+))?(?: (?P<digest>\S+))?")


def test_a_streamed_body_is_logged_when_done_with_the_bytes_sent():
    stream = io.StringIO()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        yield b"a" * 10
        yield b"b" * 5

    log = RequestLog(app, stream)
    body = log({"REQUEST_METHOD": "GET", "PATH_INFO": "/stream", "REMOTE_ADDR": "127.0.0.1"}, lambda *a: None)
    assert b"".join(body) == b"a" * 10 + b"b" * 5
    assert stream.getvalue() == "" and log.requests_served == 0  # not before the server closes the body
    body.close()
    found = LINE.fullmatch(stream.getvalue().rstrip("\n"))
    assert found and found["target"] == "/stream" and found["bytes"] == "15" and found["repository"] is None
    assert log.requests_served == 1


def test_a_manifest_pushed_by_tag_is_logged_with_the_digest_the_registry_answered():
    stream = io.StringIO()
    registry = Registry()
    client = Client(RequestLog(registry, stream, "json"))
    config = registry.push_blob("demo/app", b"{}")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
                "layers": []}
    answer = client.put("/v2/demo/app/manifests/1.0", json=manifest,
                        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    record = json.loads(stream.getvalue())
    assert record["status"] == 201 and record["kind"] == "manifest-put" and record["repository"] == "demo/app"
    assert record["digest"] == answer.headers["Docker-Content-Digest"]
    assert record["path"] == "/v2/demo/app/manifests/1.0" and record["bytes"] == 0


def test_an_unknown_log_format_is_refused():
    with pytest.raises(ValueError, match="log format must be one of text, json, got 'xml'"):
        RequestLog(Registry(), io.StringIO(), "xml")


def test_concurrent_requests_give_whole_lines_and_an_exact_count():
    stream = io.StringIO()
    log = RequestLog(Registry(), stream)
    with LiveServer(log) as server:
        def client(number: int) -> None:
            with requests.Session() as session:
                for _ in range(50):
                    assert session.get(f"{server.url}/v2/client{number}/tags/list").status_code == 404

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 400 and log.requests_served == 400
    matches = [LINE.fullmatch(line) for line in lines]
    assert all(matches)
    assert sorted({m["repository"] for m in matches}) == [f"client{n}" for n in range(8)]
