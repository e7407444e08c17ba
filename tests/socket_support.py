"""Helpers for the tests that hold raw sockets against a live server (connection limits, body timeout)."""

from __future__ import annotations

import socket
import time
from typing import Callable

GENEROUS = 30  # seconds a client waits before calling the server stalled


def wait_until(condition: Callable[[], bool], seconds: float = GENEROUS) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def read_to_end(sock: socket.socket) -> bytes:
    """Everything until the server closes (a reset after its answer counts as closing)."""
    sock.settimeout(GENEROUS)
    answer = b""
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return answer
            answer += data
    except ConnectionResetError:
        return answer
