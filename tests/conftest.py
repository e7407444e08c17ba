"""Fixtures shared by the tests: a fresh registry, a test client for it, and the registry served live."""

from __future__ import annotations

from typing import Callable, Iterator

import pytest
from werkzeug.test import Client

from mockreg import Registry
from mockreg.server import LiveServer


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
def client(registry: Registry) -> Client:
    return Client(registry)


@pytest.fixture
def live(registry: Registry) -> Iterator[LiveServer]:
    """The test's registry on 127.0.0.1:<ephemeral port>."""
    with LiveServer(registry) as server:
        yield server


@pytest.fixture
def run(pytester: pytest.Pytester) -> Callable[..., pytest.RunResult]:
    """pytester.runpytest without plugins that only slow each inner run down (hypothesis: ~1 s).
    Modules that use it enable pytester with `pytest_plugins = ["pytester"]`."""
    def run_inner(*args: str) -> pytest.RunResult:
        return pytester.runpytest("-p", "no:hypothesispytest", "-p", "no:benchmark", "-p", "no:randomly", *args)
    return run_inner
