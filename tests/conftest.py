"""Fixtures shared by the registry-core tests: a fresh registry and a test client for it."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from mockreg import Registry


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
def client(registry: Registry) -> Client:
    return Client(registry)
