"""The `mockreg` command (also `python -m mockreg`): serve, seed, export, scenario, profiles.

`main(argv)` returns the exit code, so tests call it directly. Exit codes: 0 success,
1 the command could not do its job (a port in use, a registry that refused), 2 a wrong option
or input file; 130 when interrupted. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import sys
from typing import Optional, Sequence

from . import profile_commands, record, scenario_commands, serve, transfer
from .common import OK, CommandError, Parser

__all__ = ["main", "build_parser"]

EXAMPLES = """\
examples:
  mockreg serve --scenario fixtures/quickstart.yaml          # http://127.0.0.1:5000
  skopeo inspect --tls-verify=false docker://127.0.0.1:5000/demo/app:1.0
  mockreg seed --scenario fixtures/quickstart.yaml --to http://127.0.0.1:5000
  mockreg export http://127.0.0.1:5000 --repo demo/app --to ./demo-app
  mockreg scenario check fixtures/*.yaml

`mockreg COMMAND --help` explains each command's options. Exit codes: 0 success, 1 the command
failed (port in use, registry refused), 2 bad option or input file, 130 interrupted.
Docs: docs/cli.md."""


def build_parser() -> Parser:
    parser = Parser(prog="mockreg", epilog=EXAMPLES,
                    description="An in-memory OCI registry for test suites and offline development.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.add_parser(commands)
    transfer.add_parsers(commands)
    scenario_commands.add_parser(commands)
    record.add_parser(commands)
    profile_commands.add_parser(commands)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.run(args))
    except CommandError as exc:
        print(f"{exc.command}: error: {exc}", file=sys.stderr)
        return exc.code
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else OK
    except KeyboardInterrupt:
        print("mockreg: interrupted", file=sys.stderr)
        return 130
