"""`mockreg` command line: `mockreg serve` runs a registry for real clients."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Optional, Sequence

from .registry import Registry
from .server import LiveServer
from .settings import Settings, coerce


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mockreg", description="An in-memory OCI registry for tests.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="serve a registry until interrupted",
        description="Serve an in-memory OCI registry. Example: mockreg serve --port 5000")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=5000, help="port to bind; 0 picks a free one (default 5000)")
    serve.add_argument("--control-api", action="store_true",
                       help="serve the control API under /_mockreg/ (docs/edge-cases.md)")
    serve.add_argument("--set", dest="settings", action="append", default=[], metavar="SWITCH=VALUE",
                       help=f"change a setting, e.g. --set referrers=false; switches: {', '.join(Settings.names())}")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        changes = coerce(dict(_split_setting(item) for item in args.settings))
        registry = Registry(control_api=args.control_api, **changes)
        server = LiveServer(registry, args.host, args.port)
    except (ValueError, OSError) as exc:
        print(f"mockreg: error: {exc}", file=sys.stderr)
        return 2
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        print(f"mockreg: warning: listening on {args.host}, reachable from other machines", file=sys.stderr)
    print(f"mockreg serving on {server.url}", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _split_setting(item: str) -> tuple:
    name, sep, value = item.partition("=")
    if not sep:
        raise ValueError(f"--set takes SWITCH=VALUE, got {item!r}")
    return name.strip(), value.strip()
