"""`mockreg scenario check FILE...` and `mockreg scenario show FILE`."""

from __future__ import annotations

import argparse
import sys
from typing import Any, List

from ..registry import Registry
from .common import OK, USAGE, CommandError, count, human_size, load_scenarios

CHECK_EXAMPLES = """\
examples:
  mockreg scenario check fixtures/*.yaml

Each file is loaded into a throw-away registry exactly as `mockreg serve --scenario` would.
Prints `FILE: ok (…)` per good file and one line naming file:line, key and problem per bad one.
Exit codes: 0 all files are good, 2 a file is bad or missing."""

SHOW_EXAMPLES = """\
examples:
  mockreg scenario show fixtures/multi-arch.yaml

One row per manifest: repository, name in the file, tags, kind (image, index, artifact), size
(manifest plus the blobs of an image) and digest. Exit codes: 0 shown, 2 the file is bad."""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "scenario", help="check scenario files or show what they hold",
        description="Work with scenario files (docs/scenarios.md) without serving them.",
        epilog="examples:\n  mockreg scenario check fixtures/*.yaml\n  mockreg scenario show fixtures/quickstart.yaml")
    actions = parser.add_subparsers(dest="action", required=True, metavar="{check,show}")
    check = actions.add_parser("check", help="validate scenario files", epilog=CHECK_EXAMPLES,
                               description="Validate scenario files: syntax, schema, references, content.")
    check.add_argument("files", nargs="+", metavar="FILE", help="scenario files, YAML or JSON (e.g. quickstart.yaml)")
    check.set_defaults(run=run_check)
    show = actions.add_parser("show", help="list repositories, tags, digests and sizes", epilog=SHOW_EXAMPLES,
                              description="Show the manifests a scenario file creates, as a table.")
    show.add_argument("file", metavar="FILE", help="a scenario file, YAML or JSON (e.g. quickstart.yaml)")
    show.set_defaults(run=run_show)


def run_check(args: argparse.Namespace) -> int:
    code = OK
    for path in args.files:
        try:
            (scenario,) = load_scenarios(Registry(), [path])
        except CommandError as exc:
            print(f"{exc.command}: error: {exc}", file=sys.stderr)
            code = USAGE
            continue
        rows = scenario.summary()
        tags = sum(len(row["tags"]) for row in rows)
        print(f"{path}: ok ({count(len(scenario.repositories), 'repository', 'repositories')}, "
              f"{count(len(rows), 'manifest')}, {count(tags, 'tag')})")
    return code


def run_show(args: argparse.Namespace) -> int:
    (scenario,) = load_scenarios(Registry(), [args.file])
    if scenario.description:
        print(scenario.description.strip())
        print()
    header = ["REPOSITORY", "NAME", "TAGS", "KIND", "SIZE", "DIGEST"]
    table: List[List[str]] = [header] + [
        [row["repository"], row["name"], ",".join(row["tags"]) or "-", row["kind"], human_size(row["size"]),
         row["digest"]] for row in scenario.summary()]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
    return OK
