"""Every response carries a `Date` header in IMF-fixdate (RFC 9110 §6.6.1 and §5.6.7), live and
in process, including the live server's own answers to unparseable requests."""

from __future__ import annotations

import email.utils
import socket
import time

import requests
from werkzeug.test import Client

from mockreg import Registry
from mockreg.httpdate import date_header, imf_fixdate


def _close_to_now(value: str) -> bool:
    parsed = email.utils.parsedate_to_datetime(value).timestamp()
    return abs(parsed - time.time()) < 5


def test_imf_fixdate_matches_the_rfc_example() -> None:
    assert imf_fixdate(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT"  # RFC 9110 §5.6.7
    assert imf_fixdate(0) == "Thu, 01 Jan 1970 00:00:00 GMT"


def test_the_header_is_cached_within_a_second_and_follows_the_clock(monkeypatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 784111777.2)
    first = date_header()
    monkeypatch.setattr(time, "time", lambda: 784111777.9)
    assert date_header() is first  # the same object: formatted once for the second
    monkeypatch.setattr(time, "time", lambda: 784111778.0)
    assert date_header() == ("Date", "Sun, 06 Nov 1994 08:49:38 GMT")


def test_in_process_answers_and_errors_carry_a_date() -> None:
    client = Client(Registry())
    for path in ("/v2/", "/v2/nothing/here/manifests/latest", "/not-a-route"):
        for method in ("GET", "HEAD"):
            response = client.open(path, method=method)
            assert response.headers.getlist("Date") and len(response.headers.getlist("Date")) == 1
            assert _close_to_now(response.headers["Date"]), response.headers["Date"]


def test_live_answers_carry_one_date(mockreg_server) -> None:
    for path in ("/v2/", "/v2/demo/app/manifests/1.0"):
        response = requests.get(mockreg_server.url + path)
        assert _close_to_now(response.headers["Date"])
        assert response.raw.headers.getlist("Date") == [response.headers["Date"]]


def test_the_live_servers_own_error_answer_carries_a_date(mockreg_server) -> None:
    host, port = mockreg_server.host_port.rsplit(":", 1)
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nbroken header line\r\n\r\n")
        answer = sock.recv(4096).decode("latin-1")
    assert answer.startswith("HTTP/1.1 400")
    date = next(line.split(": ", 1)[1] for line in answer.split("\r\n") if line.startswith("Date: "))
    assert _close_to_now(date)
