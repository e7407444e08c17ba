"""The cached name checks (reference.is_valid_name, the router's name grammar) give the same verdict
as the grammar for seen and unseen names, also once their bounded caches are full."""

from __future__ import annotations

import re

import pytest

from mockreg import reference, routes
from mockreg.errors import RegistryError
from mockreg.registry import Registry

_FULL = re.compile(rf"^{reference.NAME_PATTERN}$")


def _grammar(name: str) -> bool:
    return len(name) <= reference.MAX_NAME_LENGTH and _FULL.match(name) is not None


def test_verdicts_match_the_grammar_before_and_after_the_cache_fills() -> None:
    names = [f"team{i}/app" for i in range(1500)] + [f"Bad{i}/App" for i in range(300)]
    names += ["a" * 256, "a" * 255, "x/-y", "x__y", "x___y", "ok/name\n"]
    for _ in range(2):  # second pass: cached verdicts
        for name in names:
            assert reference.is_valid_name(name) == _grammar(name), name
            assert routes._fits_name_grammar(name) == (routes._NAME.fullmatch(name) is not None), name
    assert len(reference._NAME_VERDICTS) <= reference._MAX_NAME_VERDICTS
    assert len(routes._NAME_FITS) <= routes._MAX_NAME_FITS


def test_a_bad_name_is_refused_on_every_request_once_seen() -> None:
    registry = Registry()
    for _ in range(2):  # the second time from the cache
        with pytest.raises(RegistryError) as refused:
            registry.router.match("GET", "/v2/Bad/Name/tags/list")
        assert refused.value.code == "NAME_INVALID"
