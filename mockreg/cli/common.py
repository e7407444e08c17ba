"""What every `mockreg` subcommand shares: exit codes, one-line errors, scenario loading, sizes."""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING, Any, List, NoReturn, Optional, Sequence, Tuple

from ..errors import RegistryError

if TYPE_CHECKING:
    from ..registry import Registry
    from ..scenario import Scenario  # imported where used: YAML is not needed to serve

OK = 0
FAILURE = 1  # the command could not do its job: a port in use, a registry that refused
USAGE = 2  # the command line or an input file is wrong

_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}


class CommandError(Exception):
    """Ends a command with one line on stderr, `COMMAND: error: MESSAGE`, and an exit code."""

    def __init__(self, message: str, code: int = USAGE, command: str = "mockreg") -> None:
        super().__init__(message)
        self.code = code
        self.command = command


class _Formatter(argparse.HelpFormatter):
    """Wraps one-paragraph texts; keeps texts with their own line breaks (examples) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose mistakes are one line naming the command, not a usage dump."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        # Strict at every level, so an unknown option is reported by the subcommand it was given to.
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras

    def error(self, message: str) -> NoReturn:
        raise CommandError(f"{message} (see {self.prog} --help)", command=self.prog)


def load_scenarios(registry: Registry, paths: Sequence[str]) -> List[Scenario]:
    """Apply scenario files in order; a bad one is a CommandError naming file, line and key."""
    from ..scenario import Scenario

    loaded = []
    for path in paths:
        try:
            scenario = Scenario.load(path)
            scenario.apply(registry)
        except (ValueError, RegistryError) as exc:  # ScenarioError is a ValueError
            raise CommandError(str(exc)) from None
        loaded.append(scenario)
    return loaded


def credentials(text: Optional[str]) -> Optional[Tuple[str, str]]:
    """`--user NAME:PASSWORD` as a pair."""
    if text is None:
        return None
    name, sep, password = text.partition(":")
    if not sep or not name:
        raise CommandError(f"--user takes NAME:PASSWORD, got {text!r}")
    return name, password


def size_argument(text: str) -> int:
    """`8388608`, `8M`, `8MiB`, `512k` as bytes (argparse type)."""
    found = _SIZE.match(text)
    if not found or int(found.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"expected a size such as 8MiB or 1048576, got {text!r}")
    unit = (found.group(2) or "").lower()[:1]
    return int(found.group(1)) * _UNITS[unit]


def count(number: int, singular: str, plural: str = "") -> str:
    """`1 repository`, `2 repositories`, `3 blobs`."""
    return f"{number} {singular if number == 1 else (plural or singular + 's')}"


def human_size(size: int) -> str:
    """`512 B`, `1.5 KiB`, `3.2 MiB`."""
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
