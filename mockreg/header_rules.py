"""Header rules: leave out or add response headers per request kind, as a real registry does,
and answer another success status where one does (ECR answers a chunk PATCH 201, not 202).

    registry.add_header_rule(kinds=["manifest-put"], remove=["Docker-Content-Digest"])
    registry.add_header_rule(add={"X-Served-By": "mock"})
    registry.add_header_rule(kinds=["blob-upload-patch"], statuses=[202], set_status=201)

Rules apply in the order added, after every other layer, so they see the final answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional

from .http import Request, Response
from .layers import RuleListLayer, installed
from .mapping import ConfigError, from_mapping, string_list, to_mapping
from .routes import Match

if TYPE_CHECKING:
    from .registry import Registry


@dataclass
class HeaderRule:
    """For requests of `kinds` (all when empty) answered with one of `statuses` (any when empty):
    drop the headers named in `remove` (any case), add `add`, and answer `set_status` instead."""

    kinds: List[str] = field(default_factory=list)
    statuses: List[int] = field(default_factory=list)
    remove: List[str] = field(default_factory=list)
    add: Dict[str, str] = field(default_factory=dict)
    set_status: Optional[int] = None
    name: Optional[str] = None

    def __post_init__(self) -> None:
        what = f"header rule {self.name!r}" if self.name else "header rule"
        self.kinds = string_list(self.kinds, f"{what} kinds")
        self.remove = string_list(self.remove, f"{what} remove")
        if not isinstance(self.statuses, list) or not all(isinstance(s, int) and not isinstance(s, bool)
                                                          for s in self.statuses):
            raise ConfigError(f"{what} statuses must be a list of HTTP statuses, got {self.statuses!r}")
        if not isinstance(self.add, Mapping) or not all(isinstance(k, str) and k and isinstance(v, str)
                                                        for k, v in self.add.items()):
            raise ConfigError(f"{what} add must map header names to text, got {self.add!r}")
        if any(any(c in "\r\n" for c in text) for text in [*self.add, *self.add.values()]):
            raise ConfigError(f"{what} add: header names and values must be one line")
        if self.set_status is not None and (isinstance(self.set_status, bool) or not isinstance(self.set_status, int)
                                            or not 200 <= self.set_status <= 599):
            raise ConfigError(f"{what} set_status must be an HTTP status (200-599), got {self.set_status!r}")
        if not self.remove and not self.add and self.set_status is None:
            raise ConfigError(f"{what} needs remove, add or set_status")
        self._removed = frozenset(name.lower() for name in self.remove)

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> HeaderRule:
        return from_mapping(cls, mapping, "header rule")

    def to_dict(self) -> Dict[str, Any]:
        return to_mapping(self)

    def apply(self, kind: str, response: Response) -> None:
        if (self.kinds and kind not in self.kinds) or (self.statuses and response.status not in self.statuses):
            return
        if self._removed:
            response.headers = [h for h in response.headers if h[0].lower() not in self._removed]
        response.headers.extend(self.add.items())
        if self.set_status is not None:
            response.status = self.set_status
            if self.set_status in (204, 304):  # answers that carry no body, by RFC 9110
                response.body = b""
                response.headers = [h for h in response.headers if h[0].lower() != "content-length"]


class HeaderRuleLayer(RuleListLayer[HeaderRule]):
    order = 3  # outermost but the journal: error rules (5) have answered by now

    def after(self, registry: Registry, request: Request, match: Optional[Match],
              response: Response) -> Response:
        kind = match.kind if match is not None else ""
        for rule in self._rules:
            rule.apply(kind, response)
        return response


def layer_of(registry: Registry) -> HeaderRuleLayer:
    return installed(registry, HeaderRuleLayer)
