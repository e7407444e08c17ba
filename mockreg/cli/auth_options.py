"""`mockreg serve --auth`: auth from the command line, or from a file with the scenario's
`auth:` mapping (docs/edge-cases.md).

    --auth bearer --user alice:secret                      alice may do everything
    --auth basic --user ci:pw:'demo/*=pull,push;tools/*=pull' --anonymous 'public/*=pull'
    --auth auth.yaml                                       users, grants, realm, token TTL…
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

from ..auth.config import SCHEMES, AuthConfig, User
from ..mapping import ConfigError
from .common import CommandError

USER_FORM = "NAME:PASSWORD[:GLOB=ACTIONS[;GLOB=ACTIONS...]]"


def auth_config(mode: Optional[str], users: List[str], anonymous: List[str]) -> Optional[AuthConfig]:
    """The AuthConfig the options describe, or None when auth stays off."""
    if mode is None:
        if users or anonymous:
            raise CommandError("--user and --anonymous need --auth basic or --auth bearer")
        return None
    try:
        if mode in SCHEMES:
            if not users and not anonymous:
                raise CommandError(f"--auth {mode} needs at least one --user {USER_FORM} or --anonymous GLOB=ACTIONS")
            return AuthConfig(scheme=mode, users=[User.from_dict(_user(text)) for text in users],
                              anonymous=_grants(anonymous))
        if users or anonymous:
            raise CommandError("--user and --anonymous go with --auth basic|bearer; with --auth FILE, "
                               "list users in the file")
        return AuthConfig.from_dict(_read(Path(mode)))
    except ConfigError as exc:
        raise CommandError(f"--auth: {exc}") from None


def _user(text: str) -> Dict[str, Any]:
    """A user with no grants may do everything (the control API too); with grants, just those."""
    name, sep, rest = text.partition(":")
    if not sep or not name or not rest:
        raise CommandError(f"--user takes {USER_FORM}, got {text!r}")
    password, sep, grants = rest.rpartition(":")
    if not sep or "=" not in grants:
        return {"name": name, "password": rest, "admin": True}
    return {"name": name, "password": password, "access": _grants(grants.split(";")), "catalog": True}


def _grants(items: List[str]) -> Dict[str, List[str]]:
    grants: Dict[str, List[str]] = {}
    for item in items:
        glob, sep, actions = item.partition("=")
        if not sep or not glob or not actions:
            raise CommandError(f"a grant is GLOB=ACTIONS such as 'demo/*=pull,push', got {item!r}")
        grants[glob.strip()] = [action.strip() for action in actions.split(",")]
    return grants


def _read(path: Path) -> Dict[str, Any]:
    """An auth mapping from YAML or JSON: the file's top level, or its `auth:` key (so a whole
    scenario file works too)."""
    if not path.is_file():
        raise CommandError(f"--auth takes basic, bearer or a YAML/JSON file; {str(path)!r} is none of them")
    import yaml  # here, not at the top: `mockreg serve` without --auth FILE starts faster

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CommandError(f"{path}: cannot read an auth mapping: {' '.join(str(exc).split())}") from None
    if isinstance(data, dict) and isinstance(data.get("auth"), dict):
        data = data["auth"]
    if not isinstance(data, dict):
        raise CommandError(f"{path}: expected a mapping with users, anonymous, scheme…")
    return data
