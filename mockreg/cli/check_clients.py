"""`mockreg serve --check-clients`: grade the clients the server sees against the client rules,
log each violation as it happens, summarise them at shutdown (docs/client-checks.md)."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any, Callable, Optional

from ..journal import attach
from ..registry import Registry
from .common import CommandError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check-clients", action="store_true",
                        help="grade clients against the spec's client rules: log each violation, summarise at "
                             "shutdown, list them at GET /_mockreg/client-checks with --control-api "
                             "(docs/client-checks.md)")
    parser.add_argument("--ignore-client-rule", action="append", default=[], metavar="ID",
                        help="with --check-clients, do not run this rule; repeatable (e.g. --ignore-client-rule "
                             "OCI-C013)")


def install(registry: Registry, args: argparse.Namespace, say: Callable[..., None]) -> Optional[Any]:
    """Turn checks on when asked; each violation becomes a warning line (text or JSON)."""
    if not args.check_clients:
        if args.ignore_client_rule:
            raise CommandError("--ignore-client-rule goes with --check-clients")
        return None

    def log(violation: Any) -> None:
        fields = violation.to_dict()
        fields["rule_level"] = fields.pop("level")  # `level` and `msg` are the log line's own
        fields["problem"] = fields.pop("message")
        say(f"client check {violation.rule.id} {violation.rule.name} ({violation.level}): {violation.message} "
            f"[{'; '.join(violation.requests)}]", level="warning", **fields)

    try:
        return attach(registry).check_clients(ignore=args.ignore_client_rule, on_violation=log)
    except ValueError as exc:
        raise CommandError(f"--ignore-client-rule: {exc}") from None


def summarise(checks: Optional[Any], say: Callable[..., None]) -> None:
    if checks is None:
        return
    found = checks.violations()
    by_rule = Counter(f"{v.rule.id} {v.rule.name} ({v.level})" for v in found)
    if not found:
        say("client checks: no violations", violations=0)
        return
    say(f"client checks: {len(found)} violation(s): " + ", ".join(f"{rule} x{n}" for rule, n in by_rule.items()),
        violations=len(found), rules=dict(by_rule))
