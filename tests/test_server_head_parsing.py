"""The live server reads a request's head in one pass when it is all in the read buffer
(`_parse_buffered`); everything else goes line by line (`_parse` + `_environ`). Both must give the
same environ, the same keep-alive decision and the same refusal for any head."""

from __future__ import annotations

import io
import random
from typing import Any, Tuple

import pytest

from mockreg.http_connection import BadRequest, Connection

HEADS = [
    b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n",
    b"PUT /v2/a/b/blobs/uploads/1?digest=sha256%3Aab HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
    b"Content-Type: application/octet-stream\r\n\r\nbody",
    b"GET /v2/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"GET /v2/ HTTP/1.1\r\nConnection: close\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
    b"GET /v2/ HTTP/1.1\r\nX_Smuggled: 1\r\nX-Smuggled: 2\r\n\r\n",
    b"GET /v2/ HTTP/1.1\r\nBad Name: 1\r\n\r\n",
    b"GET /v2/ HTTP/1.1\r\nNoColon\r\n\r\n",
    b"GET /v2/ HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
    b"GET /v2/ HTTP/1.1\r\n: empty name\r\n\r\n",
    b"GET /v2/ HTTP/2.0\r\nHost: x\r\n\r\n",
    b"GET /v2/ HTTX/1.1\r\nHost: x\r\n\r\n",
    b"GET /v2/ HTTP/1.1 extra\r\nHost: x\r\n\r\n",
    b"GET\xa0/v2/ HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v2/ HTTP/1.1\r\nHost: \xa0x\xa0\r\nTab:\tv\t\r\n\r\n",
    b"GET /v2/ HTTP/1.1\r\n\xdfname: 1\r\n\r\n",
    b"POST /v2/a/b/blobs/uploads/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
    b"POST /v2/a/b/blobs/uploads/ HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"PUT /x HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    b"GET http://example.com/v2/x%20y?q=1 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v2/ HTTP/1.1\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(100)) + b"\r\n",
]


def connection(data: bytes) -> Any:
    conn = object.__new__(Connection)
    conn.rfile = io.BufferedReader(io.BytesIO(data), 65536)  # type: ignore[attr-defined]
    conn.base = {"wsgi.url_scheme": "http"}  # type: ignore[attr-defined]
    conn.close = False
    return conn


def outcome(environ_body: Tuple[Any, Any], conn: Any) -> Any:
    environ, body = environ_body
    environ = dict(environ)
    framing = type(environ.pop("wsgi.input")).__name__
    return environ, framing, conn.close, conn.rfile.read()


def fast(data: bytes) -> Any:
    conn = connection(data)
    try:
        parsed = conn._parse_buffered(conn.rfile.peek(1))
    except BadRequest as bad:
        return "refused", bad.status, str(bad)
    return None if parsed is None else outcome(parsed, conn)


def slow(data: bytes) -> Any:
    conn = connection(data)
    try:
        return outcome(conn._environ(*conn._parse(conn.rfile.readline(65537))), conn)
    except BadRequest as bad:
        return "refused", bad.status, str(bad)


@pytest.mark.parametrize("head", HEADS)
def test_the_one_pass_reading_equals_the_line_by_line_one(head: bytes) -> None:
    assert fast(head) is not None
    assert fast(head) == slow(head)


def test_unusual_heads_are_left_to_the_line_by_line_reading() -> None:
    assert fast(b"\r\nGET /v2/ HTTP/1.1\r\n\r\n") is None          # empty line first
    assert fast(b"GET /v2/ HTTP/1.1\nHost: x\n\n") is None           # bare LFs
    assert fast(b"GET /v2/ HTTP/1.1\r\nHost: x\nA: b\r\n\r\n") is None
    assert fast(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n") is None          # head not complete yet
    assert fast(b"GET /v2/ HTTP/1.1\r\n" + b"H: v\r\n" * 101 + b"\r\n") is None  # too many: 431 there


def test_random_heads_read_the_same_both_ways() -> None:
    pieces = [b"GET", b"PUT", b" ", b"\t", b"/v2/", b"?a=b", b"HTTP/1.1", b"HTTP/1.0", b"\r\n", b":", b"Host",
              b"Content-Length", b"X_Y", b"X-Y", b"5", b"chunked", b"Transfer-Encoding", b"\xa0", b"\x85", b"close",
              b"Connection", b"a"]
    rng = random.Random(17)
    compared = 0
    for _ in range(5000):
        head = b"".join(rng.choice(pieces) for _ in range(rng.randint(3, 30))) + b"\r\n\r\n"
        got = fast(head)
        if got is not None:
            compared += 1
            assert got == slow(head), head
    assert compared > 1000
