"""What the pytest plugin does for client checks (`mockreg_client_checks` ini option, marker
`client_checks=`), kept here so the plugin module imports nothing of it until a test asks."""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any, Dict, Iterable, List, Optional, Tuple

from .model import LEVELS, MUST, SHOULD, Violation, at_least

CHOICES = ("off", "must", "should", "interop")


class ClientCheckWarning(UserWarning):
    """A client broke a rule below the level that fails tests (SHOULD or INTEROP by default)."""


def level_of(value: Any, where: str) -> Optional[str]:
    """"must" -> "MUST"; "off" (or False/None) -> None; anything else is a usage error."""
    if value in (None, False) or str(value).lower() == "off":
        return None
    if value is True:
        return MUST
    text = str(value).lower()
    if text not in CHOICES:
        raise ValueError(f"{where}: client_checks takes one of {', '.join(CHOICES)}, got {value!r}")
    return text.upper()


def judge(journal: Any, fail_level: str) -> Tuple[List[Violation], str]:
    """Warn about violations below `fail_level`; returns every violation found (for the summary)
    and the failure message for those at `fail_level` or stricter ("" when there are none)."""
    found = journal.violations("INTEROP")
    soft = [v for v in found if not at_least(v.level, fail_level)]
    for violation in soft:
        warnings.warn(ClientCheckWarning(violation.describe()), stacklevel=1)
    hard = [v for v in found if at_least(v.level, fail_level)]
    failure = (f"mockreg client checks: the client broke {len(hard)} rule(s) at level {fail_level} or stricter:\n"
               + "\n".join(v.describe() for v in hard)) if hard else ""
    return found, failure


def as_properties(found: Iterable[Violation]) -> List[Tuple[str, str, str]]:
    return [(v.rule.id, v.rule.name, v.rule.level) for v in found]


def summary_lines(tally: Dict[Tuple[str, str, str], List[str]]) -> List[str]:
    """The terminal summary: one line per rule, with how many tests broke it and the first few."""
    lines = []
    order = {level: rank for rank, level in enumerate(LEVELS)}
    for (rule_id, name, level), tests in sorted(tally.items(), key=lambda item: (order[item[0][2]], item[0][0])):
        counts = Counter(tests)
        shown = ", ".join(list(counts)[:3]) + (", ..." if len(counts) > 3 else "")
        lines.append(f"{rule_id} {name} ({level}): {sum(counts.values())} violation(s) in {len(counts)} test(s): "
                     f"{shown}")
    return lines


__all__ = ["CHOICES", "ClientCheckWarning", "level_of", "judge", "as_properties", "summary_lines", "MUST", "SHOULD"]
