"""`mockreg serve` options for how long and how many connections a client may hold (issue 17)."""

from __future__ import annotations

import argparse
from typing import Any

from ..connections import ConnectionLimits

_DEFAULTS = ConnectionLimits()


def add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("connections (docs/reliability.md#connections)")
    group.add_argument("--handshake-timeout", type=_seconds, default=_DEFAULTS.handshake_timeout, metavar="S",
                       help=f"seconds a TLS handshake may take; 0: no limit (default {_DEFAULTS.handshake_timeout:g}; "
                            "e.g. --handshake-timeout 5)")
    group.add_argument("--header-timeout", type=_seconds, default=_DEFAULTS.header_timeout, metavar="S",
                       help="seconds from a request's first byte to the end of its headers; 0: no limit "
                            f"(default {_DEFAULTS.header_timeout:g}; e.g. --header-timeout 5)")
    group.add_argument("--idle-timeout", type=_seconds, default=_DEFAULTS.idle_timeout, metavar="S",
                       help="seconds a connection may wait for its next request; 0: no limit "
                            f"(default {_DEFAULTS.idle_timeout:g}; e.g. --idle-timeout 300)")
    group.add_argument("--body-timeout", type=_seconds, default=_DEFAULTS.body_timeout, metavar="S",
                       help="seconds a read of a request body may wait for the client's next bytes; a client that "
                            "stops mid-body is hung up on and its upload rolled back; 0: no limit "
                            f"(default {_DEFAULTS.body_timeout:g}; e.g. --body-timeout 30)")
    group.add_argument("--max-connections", type=_count, default=_DEFAULTS.max_connections, metavar="N",
                       help="connections open at once; at the bound the longest-idle one is closed, and when all "
                            f"are busy a new client gets 503 with Retry-After; 0: no bound (default "
                            f"{_DEFAULTS.max_connections}; e.g. --max-connections 200)")


def limits_from(args: argparse.Namespace) -> ConnectionLimits:
    return ConnectionLimits(handshake_timeout=args.handshake_timeout, header_timeout=args.header_timeout,
                            idle_timeout=args.idle_timeout, body_timeout=args.body_timeout,
                            max_connections=args.max_connections)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds such as 10 or 0.5, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds of at least 0, got {text!r}")
    return value


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 0, got {text!r}")
    return int(text)
