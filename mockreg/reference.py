"""The spec's grammars for repository names and tags, and the referrers tag schema."""

from __future__ import annotations

import re
from typing import Dict

NAME_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_PATTERN = rf"{NAME_COMPONENT}(?:/{NAME_COMPONENT})*"
TAG_PATTERN = r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}"

# Names over this length break clients that cap "host:port/name" at 255 characters.
MAX_NAME_LENGTH = 255

_NAME = re.compile(rf"^{NAME_PATTERN}$")
_TAG = re.compile(rf"^{TAG_PATTERN}$")
_NOT_TAG_CHAR = re.compile(r"[^a-zA-Z0-9._-]")


# Verdicts on names already seen: a client pushing an image names the same repository in every
# request. Bounded, so a client inventing names cannot grow it.
_NAME_VERDICTS: Dict[str, bool] = {}
_MAX_NAME_VERDICTS = 1024


def is_valid_name(name: str) -> bool:
    valid = _NAME_VERDICTS.get(name)
    if valid is None:
        valid = len(name) <= MAX_NAME_LENGTH and _NAME.match(name) is not None
        if len(_NAME_VERDICTS) < _MAX_NAME_VERDICTS:
            _NAME_VERDICTS[name] = valid
    return valid


def is_valid_tag(tag: str) -> bool:
    return _TAG.match(tag) is not None


def referrers_tag(digest: str) -> str:
    """The fallback tag that holds a subject's referrers when the referrers API is absent."""
    algorithm, _, encoded = digest.partition(":")
    return _NOT_TAG_CHAR.sub("-", f"{algorithm[:32]}-{encoded[:64]}")
