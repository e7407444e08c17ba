"""`mockreg serve`: a registry for docker, podman, skopeo, oras, crane and regctl.

Standard output carries exactly one line, `mockreg serving on URL`, once the socket listens;
everything else (warnings, TLS hints, the request log, the shutdown summary) goes to standard
error, as text or, with `--log-format json`, as JSON lines.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

from ..registry import Registry
from ..requestlog import FORMATS, RequestLog, timestamp
from ..server import LiveServer
from ..settings import Settings, coerce
from ..tls import ServerTls, TlsError, client_hints, default_directory, from_files, self_signed
from . import check_clients, connection_options, notify_options
from .auth_options import USER_FORM, auth_config
from .common import FAILURE, OK, CommandError, count, human_size, load_scenarios
from .profile_commands import add_serve_option, apply_profile, profile_line

EXAMPLES = """\
examples:
  mockreg serve --scenario fixtures/quickstart.yaml
  mockreg serve --port 0 --ready-file /tmp/mockreg.url --quiet
  mockreg serve --tls self-signed --auth bearer --user alice:secret
  mockreg serve --set referrers=false --set tag_delete=false --log-format json
  mockreg serve --notify http://127.0.0.1:8000/hook

The first line on standard output is `mockreg serving on URL`; with --port 0 it names the port
chosen. SIGINT (Ctrl-C) or SIGTERM stops the server and prints a summary.
Exit codes: 0 stopped cleanly, 1 could not serve (e.g. port in use), 2 bad option or file."""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "serve", help="serve a registry until interrupted", epilog=EXAMPLES,
        description="Serve an in-memory OCI registry for real clients (docker, podman, skopeo, oras, crane, "
                    "regctl). Everything it holds is lost when it stops.")
    parser.add_argument("--scenario", action="append", default=[], metavar="FILE",
                        help="load a scenario file (YAML or JSON) first; repeat to load several, in order "
                             "(e.g. --scenario fixtures/quickstart.yaml)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; e.g. --host ::1). Anything but a loopback "
                             "address is reachable from other machines and draws a warning")
    parser.add_argument("--port", type=_port, default=5000,
                        help="port to listen on; 0 picks a free one (default 5000; e.g. --port 0)")
    tls = parser.add_argument_group("TLS (default: plain http)")
    tls.add_argument("--tls", choices=["self-signed"],
                     help="serve https with a certificate from a local CA kept in --tls-dir and reused across "
                          "runs; prints the CA path and how each client trusts it (e.g. --tls self-signed)")
    tls.add_argument("--tls-dir", type=Path, metavar="DIR",
                     help=f"where --tls self-signed keeps its CA (default {_shown(default_directory())}); the "
                          "directory itself works as skopeo/podman --cert-dir (e.g. --tls-dir ./certs)")
    tls.add_argument("--cert", type=Path, metavar="FILE",
                     help="serve https with your own certificate chain (PEM), with --key (e.g. --cert server.crt)")
    tls.add_argument("--key", type=Path, metavar="FILE", help="the private key of --cert (e.g. --key server.key)")
    add_serve_option(parser)
    auth = parser.add_argument_group("auth (default: anyone may do anything)")
    auth.add_argument("--auth", metavar="basic|bearer|FILE",
                      help="require credentials: Basic auth, Bearer tokens from /token as docker expects, or the "
                           "auth mapping of a YAML/JSON file such as a scenario's (e.g. --auth bearer)")
    auth.add_argument("--user", action="append", default=[], metavar=USER_FORM,
                      help="a user for --auth basic|bearer; repeatable. Without grants the user may do everything, "
                           "the control API included; ACTIONS are pull, push, delete or * "
                           "(e.g. --user alice:secret, --user 'ci:pw:demo/*=pull,push;tools/*=pull')")
    auth.add_argument("--anonymous", action="append", default=[], metavar="GLOB=ACTIONS",
                      help="what clients without credentials may do; repeatable (e.g. --anonymous 'public/*=pull')")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="SWITCH=VALUE",
                        help=f"change a setting, after scenarios (e.g. --set referrers=false); switches: "
                             f"{', '.join(Settings.names())}")
    parser.add_argument("--control-api", action="store_true",
                        help="serve the control API under /_mockreg/ to change faults, settings and the clock "
                             "while running (docs/edge-cases.md)")
    check_clients.add_arguments(parser)
    notify_options.add_arguments(parser)
    parser.add_argument("--log-format", choices=FORMATS, default="text",
                        help="request log and messages as text lines or JSON lines (default text; "
                             "e.g. --log-format json)")
    parser.add_argument("--quiet", action="store_true",
                        help="no request log (and no per-request cost for it); warnings and the summary remain")
    parser.add_argument("--ready-file", type=Path, metavar="PATH",
                        help="also write the URL to PATH once serving, and remove it on shutdown "
                             "(e.g. --ready-file /tmp/mockreg.url)")
    connection_options.add_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    say = _Messages(args.log_format)
    registry = _registry(args, say)
    checks = check_clients.install(registry, args, say)
    tls = _tls(args)
    log = None if args.quiet else RequestLog(registry, sys.stderr, args.log_format)
    try:
        server = LiveServer(log or registry, args.host, args.port, tls.context if tls else None,
                            limits=connection_options.limits_from(args))
    except OSError as exc:
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", FAILURE) from None
    if not _is_loopback(args.host):
        say(f"warning: listening on {args.host}: other machines can reach this registry"
            + ("" if registry.auth else ", and without --auth anyone may push or delete"), level="warning")
    if tls is not None and tls.ca_file is not None:
        say(f"TLS certificate issued by the local CA {tls.ca_file}; to trust it:", ca_file=str(tls.ca_file))
        for line in client_hints(server.host_port, tls.ca_file):
            say("  " + line)
    with until_signal(args.ready_file) as wait:
        try:
            server.start()
            print(f"mockreg serving on {server.url}", flush=True)
            wait(server.url)
        finally:
            notify_options.finish(registry)
            server.stop()
    repositories, manifests, blobs, size = holdings(registry)
    handled = log.requests_served if log is not None else None
    served = f"served {count(handled, 'request')}" if handled is not None else "requests not counted (--quiet)"
    say(f"stopped: {served}; held {count(repositories, 'repository', 'repositories')}, "
        f"{count(manifests, 'manifest')}, {count(blobs, 'blob')}, {human_size(size)}",
        requests=handled, repositories=repositories, manifests=manifests, blobs=blobs, bytes=size)
    check_clients.summarise(checks, say)
    return OK


def holdings(registry: Registry) -> Tuple[int, int, int, int]:
    """(repositories, manifests, blobs, bytes of both) the registry holds; shared blobs count once."""
    store = registry.store
    with store.lock:
        manifests = {digest: len(stored.body) for repo in store.repositories.values()
                     for digest, stored in repo.manifests.items()}
        size = sum(len(data) for data in store.blobs.values()) + sum(manifests.values())
        return len(store.repositories), len(manifests), len(store.blobs), size


def _registry(args: argparse.Namespace, say: _Messages) -> Registry:
    registry = Registry()
    users_taken = apply_profile(registry, args)
    if registry.profile is not None:
        say(profile_line(registry.profile, args), profile=registry.profile.name)
    for scenario in load_scenarios(registry, args.scenario):
        rows = scenario.summary()
        say(f"loaded {scenario.path}: {count(len(scenario.repositories), 'repository', 'repositories')}, "
            f"{count(len(rows), 'manifest')}",
            scenario=str(scenario.path))
    try:
        changes = coerce(dict(_split_setting(item) for item in args.settings))
    except ValueError as exc:
        raise CommandError(f"--set: {exc}") from None
    registry.configure(**changes)
    config = None if users_taken else auth_config(args.auth, args.user, args.anonymous)
    if config is not None:
        if registry.auth is not None:
            raise CommandError("auth comes from both --auth and a scenario's `auth:`; keep one of them")
        registry.enable_auth(config)
    if args.control_api:
        registry.enable_control_api()
    notify_options.apply(registry, args, say)
    return registry


def _tls(args: argparse.Namespace) -> Optional[ServerTls]:
    if (args.cert is None) != (args.key is None):
        raise CommandError("--cert and --key go together")
    if args.tls and args.cert:
        raise CommandError("choose --tls self-signed or --cert/--key, not both")
    if args.tls_dir is not None and not args.tls:
        raise CommandError("--tls-dir goes with --tls self-signed")
    try:
        if args.tls:
            return self_signed(args.tls_dir or default_directory(), args.host)
        if args.cert:
            return from_files(args.cert, args.key)
    except TlsError as exc:
        raise CommandError(str(exc)) from None
    return None


class _Messages:
    """Lines for people on stderr: `mockreg: …`, or JSON objects with `--log-format json`."""

    def __init__(self, format: str) -> None:
        self._json = format == "json"

    def __call__(self, message: str, level: str = "info", **fields: Any) -> None:
        if self._json:
            record: Dict[str, Any] = {"time": timestamp(time.time()), "level": level, "msg": message.strip()}
            record.update(fields)
            print(json.dumps(record, separators=(",", ":")), file=sys.stderr, flush=True)
        else:
            print(f"mockreg: {message}", file=sys.stderr, flush=True)


@contextmanager
def until_signal(ready_file: Optional[Path]) -> Iterator[Callable[[str], None]]:
    """Yields `wait(url)`, which writes `url` to the ready file (if asked for) and blocks until
    SIGINT or SIGTERM; on leaving, the previous handlers are back and the ready file is gone."""
    stop = threading.Event()
    previous = _on_signals(lambda signum, frame: stop.set())

    def wait(url: str) -> None:
        if ready_file is not None:
            _write_ready_file(ready_file, url)
        while not stop.wait(0.5):
            pass

    try:
        yield wait
    finally:
        _restore_signals(previous)
        if ready_file is not None:
            ready_file.unlink(missing_ok=True)


def _on_signals(handler: Any) -> Dict[int, Any]:
    """Install `handler` for SIGINT and SIGTERM (only possible in the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}


def _restore_signals(previous: Dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def _write_ready_file(path: Path, url: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        temporary.write_text(url + "\n")
        os.replace(temporary, path)  # a reader polling for the file never sees it half written
    except OSError as exc:
        raise CommandError(f"cannot write --ready-file {path}: {exc.strerror or exc}", FAILURE) from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}")
    return port


def _split_setting(item: str) -> Tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep:
        raise ValueError(f"takes SWITCH=VALUE, got {item!r}")
    return name.strip(), value.strip()


def _shown(path: Path) -> str:
    home = os.path.expanduser("~")
    text = str(path)
    return "~" + text[len(home):] if text.startswith(home + os.sep) else text
