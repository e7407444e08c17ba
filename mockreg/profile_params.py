"""Registry profiles in pytest: which profiles `@pytest.mark.mockreg_profiles(...)` runs a test
with, and applying one to a test's registry. Imported by the plugin only when a test uses them,
so a session without profiles never reads a profile file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence, Set

import pytest

from . import profiles
from .registry import Registry


def selected_profiles(nodeid: str, names: Sequence[Any], options: Mapping[str, Any],
                      only: Optional[str] = None) -> List[str]:
    """The names of `@pytest.mark.mockreg_profiles(*names, exclude=())`: all shipped profiles when
    none are named, in the order given, and of those only the ones `--mockreg-profiles` lists (if
    given); an unknown name fails the test's collection."""
    unknown_options = sorted(set(options) - {"exclude"})
    if unknown_options:
        pytest.fail(f"{nodeid}: @pytest.mark.mockreg_profiles takes profile names and exclude=, not "
                    f"{', '.join(unknown_options)}", pytrace=False)
    known = profiles.names()
    exclude = options.get("exclude", ())
    exclude = [exclude] if isinstance(exclude, str) else list(exclude)
    wanted = [str(name) for name in names] or known
    unknown = [name for name in [*wanted, *exclude] if name not in known and not _is_file(name)]
    if unknown:
        pytest.fail(f"{nodeid}: @pytest.mark.mockreg_profiles: unknown profile(s) {', '.join(unknown)}; "
                    f"known: {', '.join(known)}", pytrace=False)
    chosen = [name for name in wanted if name not in exclude]
    if not chosen:
        pytest.fail(f"{nodeid}: @pytest.mark.mockreg_profiles: every profile is excluded", pytrace=False)
    if only is not None:
        listed = option_names(only)
        chosen = [name for name in chosen if name in listed or profile_id(name) in listed]
    return chosen


def option_names(only: str) -> List[str]:
    return [name.strip() for name in only.split(",") if name.strip()]


def check_option(only: str, seen_ids: Set[str]) -> None:
    """After collection: every name `--mockreg-profiles` gave is a shipped profile or the id of a
    profile file some test named; otherwise a usage error (a typo would silently run nothing)."""
    known = profiles.names()
    strange = [name for name in option_names(only) if name not in known and name not in seen_ids]
    if strange:
        raise pytest.UsageError(f"--mockreg-profiles: unknown profile(s) {', '.join(strange)}; "
                                f"known: {', '.join(known)}")


def profile_id(name: str) -> str:
    """The test id part for a profile: its name, or a profile file's stem (`test_x[ecr]`)."""
    return Path(name).stem if _is_file(name) else name


def _is_file(name: str) -> bool:
    return name.endswith((".yaml", ".yml"))


def apply_profile(registry: Registry, node: pytest.Item, name: str, users: Sequence[Any] = ()) -> None:
    """Apply profile `name` (a shipped name, or a file relative to the test's file or the rootdir);
    `users` ((name, password) pairs) may do everything under its auth."""
    target: Any = name
    if _is_file(name) and not Path(name).is_absolute():
        candidates = [Path(node.path).parent / name, node.config.rootpath / name]
        target = next((c for c in candidates if c.is_file()), candidates[0])
    try:
        profiles.load(target).apply(registry, [tuple(user) for user in users])
    except (profiles.ProfileError, ValueError, TypeError) as exc:
        pytest.fail(f"{node.nodeid}: registry profile {name!r}: {exc}", pytrace=False)
