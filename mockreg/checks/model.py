"""The parts of a client rule: its level, the rule itself with its source, a violation, and the
`Exchange` a rule judges (a journal entry plus what only checks need).

Rules are data plus two small functions, as in ruff's and pylint's registries: a stable id
(`OCI-C001`), a name, a level, the sentence it comes from with its URL, a paragraph saying why,
and a pair of examples (violating, compliant) that the test suite runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..journal import Entry

MUST = "MUST"
SHOULD = "SHOULD"
INTEROP = "INTEROP"  # a de-facto rule: what real registries or clients rely on, with its source
LEVELS = (MUST, SHOULD, INTEROP)
# `level="SHOULD"` asks for SHOULD rules and everything stricter.
_RANK = {MUST: 0, SHOULD: 1, INTEROP: 2}

# The spec as of this commit (2026-07-16, after v1.1.1): the sentences below are quoted from it.
DIST_SPEC = "https://github.com/opencontainers/distribution-spec/blob/967efdc079b91785ad18c77cc4f8991a47feefbf/spec.md"
TOKEN_SPEC = "https://distribution.github.io/distribution/spec/auth/token/"
RFC9110 = "https://www.rfc-editor.org/rfc/rfc9110"


def at_least(level: str, wanted: str) -> bool:
    """Whether a rule of `level` counts when a caller asks for `wanted` and stricter."""
    if wanted not in _RANK:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {wanted!r}")
    return _RANK[level] <= _RANK[wanted]


class Exchange:
    """One request as the checks see it: the journal entry, the client that sent it, and the
    few extra facts a rule needs (captured only while checks are on)."""

    __slots__ = ("entry", "client", "connection", "body", "response_body", "corrupted", "extra_headers", "_json")

    def __init__(self, entry: Entry, client: str, connection: str, body: Optional[bytes],
                 response_body: Optional[bytes], corrupted: bool, extra_headers: Dict[str, str]) -> None:
        self.entry = entry
        self.client = client  # "address user-agent": one client program, across its connections
        self.connection = connection  # "address:port"
        self.body = body  # the request body of a manifest PUT
        self.response_body = response_body  # kept for error answers and token answers only
        self.corrupted = corrupted  # a fault rule served damaged bytes
        self.extra_headers = extra_headers
        self._json: Any = None

    def request_header(self, name: str) -> Optional[str]:
        return self.entry.request_headers.get(name) or self.extra_headers.get(name)

    @property
    def json(self) -> Any:
        """The captured body as JSON, or None when it is absent or not JSON."""
        if self._json is None and self.body:
            try:
                self._json = json.loads(self.body)
            except ValueError:
                self._json = False
        return self._json or None

    @property
    def response_json(self) -> Any:
        try:
            return json.loads(self.response_body) if self.response_body else None
        except ValueError:
            return None

    @property
    def error_code(self) -> Optional[str]:
        """The first error code of an error answer."""
        answer = self.response_json
        try:
            return answer["errors"][0]["code"]
        except (KeyError, IndexError, TypeError):
            return None

    def __str__(self) -> str:
        return f"#{self.entry.seq} {self.entry}"


@dataclass(frozen=True)
class Violation:
    """One broken rule: which rule, why, and the requests that show it (by journal number)."""

    rule: Rule
    message: str
    requests: Tuple[str, ...]
    client: str

    @property
    def level(self) -> str:
        return self.rule.level

    def to_dict(self) -> Dict[str, Any]:
        return {"rule": self.rule.id, "name": self.rule.name, "level": self.rule.level, "message": self.message,
                "requests": list(self.requests), "client": self.client, "source": self.rule.source,
                "url": self.rule.url}

    def describe(self) -> str:
        requests = "".join(f"\n    {line}" for line in self.requests)
        return (f"{self.rule.id} {self.rule.name} ({self.rule.level}): {self.message}\n"
                f"  requests:{requests}\n  spec: \"{self.rule.source}\"\n        {self.rule.url}")


# A rule's judgement: a message and the exchanges that show it.
Finding = Tuple[str, Sequence[Exchange]]
# observe(exchange, state) -> findings; `state` is the rule's own dict for this checker.
Observe = Callable[[Exchange, Dict[str, Any]], List[Finding]]
# finish(state) -> findings that only the end of the run shows (a fallback never taken).
Finish = Callable[[Dict[str, Any]], List[Finding]]
# example(client): drives a registry through an `ExampleClient` (see checks/examples.py).
Example = Callable[[Any], None]


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    level: str
    source: str  # the sentence, verbatim
    url: str
    doc: str
    observe: Observe = field(repr=False)
    finish: Optional[Finish] = field(default=None, repr=False)
    scope: str = "request"  # what the rule follows: request, upload, client or connection
    refused_by: str = ""  # how mockreg answers a violation by default (docs/client-checks.md)
    settings: Dict[str, Any] = field(default_factory=dict, repr=False)  # registry settings the examples need
    kinds: Optional[frozenset] = field(default=None, repr=False)  # route kinds `observe` needs; None: all

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"{self.id}: level must be one of {LEVELS}")
