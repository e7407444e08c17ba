"""`mockreg record`: a recording proxy in front of a real registry; on Ctrl-C (SIGINT) or
SIGTERM it writes what it saw as a scenario file that `mockreg serve --scenario` replays.

Standard output carries one line, `mockreg recording on URL`, once the socket listens; the
rest (upstream problems, the summary) goes to standard error.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

from .common import FAILURE, OK, CommandError, count, credentials
from .serve import _on_signals, _port, _restore_signals, _write_ready_file

EXAMPLES = """\
examples:
  mockreg record --upstream https://registry.example --out recorded.yaml
  skopeo copy --src-tls-verify=false docker://127.0.0.1:5000/demo/app:1.0 oci:./app   # through the recorder
  # Ctrl-C: recorded.yaml and recorded.layout/ are written
  mockreg serve --scenario recorded.yaml                                               # replay offline

  mockreg record --upstream https://10.0.0.5:5443 --ca-file ca.pem --user ci:secret --out ci.yaml

Exit codes: 0 recorded, 1 could not listen or write, 2 bad option."""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "record", help="record a real registry through a proxy, as a scenario file", epilog=EXAMPLES,
        description="Serve the distribution API on a loopback port, forward every request to the upstream "
                    "registry and relay its answers; when stopped, write what was seen (content, auth, errors, "
                    "headers) as a scenario file for `mockreg serve --scenario` (docs/record.md).")
    parser.add_argument("--upstream", required=True, metavar="URL",
                        help="the registry to record (e.g. --upstream https://registry.example)")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE",
                        help="the scenario file to write; blobs go to FILE's name + .layout/ beside it "
                             "(e.g. --out recorded.yaml)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; e.g. --host ::1)")
    parser.add_argument("--port", type=_port, default=5000,
                        help="port to listen on; 0 picks a free one (default 5000; e.g. --port 0)")
    parser.add_argument("--ca-file", metavar="FILE",
                        help="trust the upstream's certificate from this CA bundle (PEM) instead of the system's "
                             "(e.g. --ca-file ca.pem)")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--user", metavar="NAME:PASSWORD",
                     help="log in to the upstream as this user for clients that send no credentials (Basic, or "
                          "Bearer through the upstream's token flow; e.g. --user ci:secret)")
    who.add_argument("--token", metavar="TOKEN",
                     help="send this Bearer token for clients that send no credentials (e.g. --token \"$PAT\")")
    parser.add_argument("--replay-password", default="replay", metavar="PASSWORD",
                        help="the password the recorded users get in the scenario; theirs is never written "
                             "(default: replay; e.g. --replay-password pw)")
    parser.add_argument("--no-backfill", action="store_true",
                        help="do not fetch content the upstream showed it holds (a HEAD answered 200, a listed tag) "
                             "but the client never downloaded")
    parser.add_argument("--ready-file", type=Path, metavar="PATH",
                        help="also write the URL to PATH once recording, and remove it when stopped "
                             "(e.g. --ready-file /tmp/record.url)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..record import Recorder

    def say(line: str) -> None:
        print(f"mockreg: {line}", file=sys.stderr, flush=True)

    try:
        recorder = Recorder(args.upstream, args.out, host=args.host, port=args.port, ca_file=args.ca_file,
                            credentials=credentials(args.user), token=args.token,
                            replay_password=args.replay_password, backfill=not args.no_backfill, say=say)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", FAILURE) from None
    stop = threading.Event()
    previous = _on_signals(lambda signum, frame: stop.set())
    try:
        recorder.start()
        print(f"mockreg recording on {recorder.url} (upstream {recorder.upstream.url})", flush=True)
        if args.ready_file is not None:
            _write_ready_file(args.ready_file, recorder.url)
        while not stop.wait(0.5):
            pass
    finally:
        _restore_signals(previous)
        if args.ready_file is not None:
            args.ready_file.unlink(missing_ok=True)
        try:
            written = recorder.stop()
        except OSError as exc:
            raise CommandError(f"cannot write {args.out}: {exc.strerror or exc}", FAILURE) from None
    recording = recorder.recording
    say(f"wrote {written}: {count(len(recording.exchanges), 'exchange')}, "
        f"{count(len(recording.manifests), 'manifest')}, {count(len(recording.blob_files), 'blob')}"
        + (f"; {count(len(recording.problems), 'problem')} under recorded.problems" if recording.problems else ""))
    return OK
