"""The spec's grammars for repository names and tags, and the referrers tag schema."""

from __future__ import annotations

import re

NAME_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_PATTERN = rf"{NAME_COMPONENT}(?:/{NAME_COMPONENT})*"
TAG_PATTERN = r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}"

# Names over this length break clients that cap "host:port/name" at 255 characters.
MAX_NAME_LENGTH = 255

_NAME = re.compile(rf"^{NAME_PATTERN}$")
_TAG = re.compile(rf"^{TAG_PATTERN}$")
_NOT_TAG_CHAR = re.compile(r"[^a-zA-Z0-9._-]")


def is_valid_name(name: str) -> bool:
    return len(name) <= MAX_NAME_LENGTH and _NAME.match(name) is not None


def is_valid_tag(tag: str) -> bool:
    return _TAG.match(tag) is not None


def referrers_tag(digest: str) -> str:
    """The fallback tag that holds a subject's referrers when the referrers API is absent."""
    algorithm, _, encoded = digest.partition(":")
    return _NOT_TAG_CHAR.sub("-", f"{algorithm[:32]}-{encoded[:64]}")
