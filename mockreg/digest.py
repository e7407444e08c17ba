"""Content digests: the grammar of the OCI image-spec and the hashers behind it."""

from __future__ import annotations

import hashlib
import re
from typing import Callable, Dict, Union

# algorithm ":" encoded, as in image-spec descriptor.md.
DIGEST_GRAMMAR = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")

# Registered algorithms and the exact form of their encoded part.
_ENCODED_FORM = {
    "sha256": re.compile(r"^[a-f0-9]{64}$"),
    "sha512": re.compile(r"^[a-f0-9]{128}$"),
}
_HASHERS: Dict[str, Callable[..., hashlib._Hash]] = {
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
}


class DigestError(ValueError):
    """A digest that is malformed or uses an algorithm this registry does not serve."""

    def __init__(self, digest: str, reason: str) -> None:
        super().__init__(f"{reason}: {digest!r}")
        self.digest = digest
        self.reason = reason


def looks_like_digest(text: str) -> bool:
    """True when `text` has the shape `algorithm:encoded` (not necessarily a supported one)."""
    return ":" in text and DIGEST_GRAMMAR.match(text) is not None


def parse(digest: str, algorithms: frozenset = frozenset(_HASHERS)) -> str:
    """Return the algorithm of a valid digest, or raise DigestError."""
    if not DIGEST_GRAMMAR.match(digest):
        raise DigestError(digest, "malformed digest")
    algorithm, encoded = digest.split(":", 1)
    if algorithm not in algorithms or algorithm not in _ENCODED_FORM:
        raise DigestError(digest, f"unsupported digest algorithm {algorithm!r}")
    if not _ENCODED_FORM[algorithm].match(encoded):
        raise DigestError(digest, f"encoded part does not fit {algorithm}")
    return algorithm


def new_hasher(algorithm: str) -> hashlib._Hash:
    return _hasher(algorithm)()


def of(data: Union[bytes, bytearray, memoryview], algorithm: str = "sha256") -> str:
    """The digest of `data`; DigestError for an algorithm other than sha256 or sha512."""
    return f"{algorithm}:{_hasher(algorithm)(data).hexdigest()}"


def _hasher(algorithm: str) -> Callable[..., hashlib._Hash]:
    try:
        return _HASHERS[algorithm]
    except KeyError:
        raise DigestError(algorithm, "unsupported digest algorithm") from None


def supported_algorithms() -> frozenset:
    return frozenset(_HASHERS)
