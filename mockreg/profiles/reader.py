"""Reading a profile file: YAML with positions (the scenario reader), checked against
`schema.json`, then each entry converted and its sources checked, errors as file:line: key."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from ..auth.config import AuthConfig
from ..error_rules import ErrorRule
from ..extensions import BUILTINS
from ..header_rules import HeaderRule
from ..ratelimit import RateLimit
from ..scenario import source, validate
from ..scenario.errors import KeyPath, ScenarioError
from ..settings import coerce
from .model import Behaviour, Profile, ProfileError

_ENTRY_KEYS = ("source", "note")
# Auth keys a profile may not set: users come from the command line or the test; a fixed
# secret would make tokens forgeable by anyone who reads the profile.
_AUTH_FORBIDDEN = ("users", "secret")


@lru_cache(maxsize=1)
def schema() -> Dict[str, Any]:
    return json.loads(resources.files("mockreg.profiles").joinpath("schema.json").read_text())


def read_profile(path: Path, expect_name: Optional[str] = None) -> Profile:
    try:
        data, positions = source.read(path)
    except ScenarioError as exc:
        raise ProfileError(exc.file, exc.where, exc.problem, exc.line, exc.column) from None
    return _Reader(path, data, positions).profile(expect_name)


class _Reader:
    def __init__(self, path: Path, data: Any, positions: source.Positions) -> None:
        self.path = path
        self.data = data
        self.positions = positions

    def error(self, where: KeyPath, problem: str) -> ProfileError:
        line, column = source.position(self.positions, where)
        return ProfileError(self.path, where, problem, line=line, column=column)

    def profile(self, expect_name: Optional[str]) -> Profile:
        try:
            validate.check(self.data, schema())
        except validate.SchemaViolation as violation:
            raise self.error(violation.where, violation.problem) from None
        data = self.data
        if expect_name is not None and data["name"] != expect_name:
            raise self.error(("name",), f"the profile in {self.path.name} must be named {expect_name!r}, "
                                        f"not {data['name']!r}")
        result = Profile(data["name"], data["title"], data.get("description", ""), self.path)
        for setting, entry in data.get("settings", {}).items():
            where: KeyPath = ("settings", setting)
            value = self.convert(where + ("value",), coerce, {setting: entry["value"]})[setting]
            result.settings[setting] = value
            self.entry(result, where, entry, value)
        if "auth" in data:
            self.auth(result, data["auth"])
        for key, target, convert in (("errors", result.error_rules, ErrorRule.from_dict),
                                     ("headers", result.header_rules, HeaderRule.from_dict),
                                     ("rate_limits", result.rate_limits, RateLimit.from_dict)):
            for position, entry in enumerate(data.get(key, [])):
                where = (key, position)
                body = _without_entry_keys(entry)
                target.append(self.convert(where, convert, body))
                self.entry(result, where, entry, body)
        for position, entry in enumerate(data.get("extensions", [])):
            where = ("extensions", position)
            if entry["builtin"] not in BUILTINS:
                raise self.error(where + ("builtin",), f"unknown built-in extension {entry['builtin']!r}; "
                                                       f"known: {', '.join(sorted(BUILTINS))}")
            if "repositories" in entry and entry["builtin"] not in ("history", "events"):
                raise self.error(where + ("repositories",), f"only the history and events built-ins take "
                                                            f"repositories, not {entry['builtin']}")
            body = _without_entry_keys(entry)
            result.extensions.append(body)
            self.entry(result, where, entry, body)
        for position, entry in enumerate(data.get("not_emulated", [])):
            where = ("not_emulated", position)
            result.not_emulated.append(Behaviour(f"not_emulated[{position}]", entry["what"],
                                                 self.sources(where, entry), entry.get("note", ""),
                                                 source.position(self.positions, where)[0]))
        return result

    def auth(self, result: Profile, entry: Dict[str, Any]) -> None:
        body = _without_entry_keys(entry)
        for key in _AUTH_FORBIDDEN:
            if key in body:
                raise self.error(("auth", key), f"a profile gives the auth shape only; {key} come from the test or "
                                                "`mockreg serve --user`")
        self.convert(("auth",), AuthConfig.from_dict, body)
        result.auth = body
        self.entry(result, ("auth",), entry, body)

    def convert(self, where: KeyPath, convert: Callable[[Any], Any], value: Any) -> Any:
        try:
            return convert(value)
        except (ValueError, TypeError) as exc:
            raise self.error(where, str(exc)) from None

    def sources(self, where: KeyPath, entry: Dict[str, Any]) -> List[str]:
        """The entry's source URLs; a missing or malformed one is an error (every behaviour cites one)."""
        if "source" not in entry:
            raise self.error(where, "every behaviour needs a `source:` (the URL it was taken from)")
        raw = entry["source"]
        urls = [raw] if isinstance(raw, str) else raw
        if not urls or not all(isinstance(u, str) and u.startswith(("https://", "http://")) and " " not in u
                               for u in urls):
            raise self.error(where + ("source",), f"expected an http(s) URL or a list of them, found {raw!r}")
        return list(urls)

    def entry(self, result: Profile, where: KeyPath, entry: Dict[str, Any], value: Any) -> None:
        line = source.position(self.positions, where)[0]
        result.entries.append(Behaviour(_key(where), value, self.sources(where, entry), entry.get("note", ""), line))


def _without_entry_keys(entry: Dict[str, Any]) -> Dict[str, Any]:
    return {key: value for key, value in entry.items() if key not in _ENTRY_KEYS}


def _key(where: KeyPath) -> str:
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text

