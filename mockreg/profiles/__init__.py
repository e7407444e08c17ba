"""Registry profiles: named, shipped bundles of settings, auth shape, limits and quirks that make
mockreg answer the way one real registry does, each behaviour next to the source it came from.

    from mockreg import Registry, profiles

    profiles.names()                       # ['acr', ..., 'strict-spec', ...]
    registry = Registry(profile="strict-spec")
    profiles.load("strict-spec").behaviours()

A profile is a YAML file `mockreg/profiles/<name>.yaml` (format: docs/profiles.md and
`schema.json` beside this file). `load` also takes a path, for profiles kept with a test suite.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import List, Union

from .model import Behaviour, Profile, ProfileError, UnknownProfile
from .reader import read_profile

__all__ = ["Behaviour", "Profile", "ProfileError", "UnknownProfile", "DEFAULT", "names", "load", "path_of"]

DEFAULT = "strict-spec"
_SUFFIX = ".yaml"


def names() -> List[str]:
    """The names of the shipped profiles, sorted."""
    folder = resources.files(__name__)
    return sorted(entry.name[:-len(_SUFFIX)] for entry in folder.iterdir() if entry.name.endswith(_SUFFIX))


def path_of(name: str) -> Path:
    """The file of a shipped profile; ProfileError naming the known ones when there is none."""
    candidate = Path(str(resources.files(__name__).joinpath(name + _SUFFIX)))
    if not candidate.is_file():
        raise UnknownProfile(name, names())
    return candidate


_cache: dict = {}


def load(name_or_path: Union[str, Path]) -> Profile:
    """A shipped profile by name (`"ecr"`), or a profile file by path (anything with a `/` or
    ending in .yaml/.yml). Validated; ProfileError says file:line: key: what is wrong.
    Loaded files are kept (by path and modification time), so a test suite reads each once."""
    text = str(name_or_path)
    is_path = isinstance(name_or_path, Path) or "/" in text or text.endswith((".yaml", ".yml"))
    path = Path(text) if is_path else path_of(text)
    try:
        key = (str(path.resolve()), path.stat().st_mtime)
    except OSError:
        raise ProfileError(path, (), "the file does not exist") from None
    if key not in _cache:
        _cache[key] = read_profile(path, expect_name=None if is_path else text)
    return _cache[key]
