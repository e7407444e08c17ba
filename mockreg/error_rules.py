"""Error rules: answer a condition with another status, code or message, as a real registry does.

A rule matches an error by its spec `code`, the `reason` a switch gave it (see policy.py), the
request `kinds` and the `status`; the first matching rule rewrites the answer::

    registry.add_error_rule(when={"reason": "repository-missing"},
                            answer={"status": 404, "code": "NAME_UNKNOWN", "message": "The repository ..."})

The layer exists only once a rule is added, and only errors pay for it: it looks at the
RegistryError the registry kept for the request, never parses bodies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional

from .errors import RegistryError
from .http import Request, Response, json_response
from .layers import RuleListLayer, installed
from .mapping import ConfigError, from_mapping, string_list
from .routes import Match

if TYPE_CHECKING:
    from .registry import Registry

_WHEN_KEYS = ("code", "reason", "kinds", "status")
_ANSWER_KEYS = ("status", "code", "message", "detail", "headers", "body", "content_type")
_NO_DETAIL = object()


@dataclass
class ErrorRule:
    """`when` (code, reason, kinds, status: all given must match) -> `answer` (status, code,
    message, detail, headers: each given replaces the error's; headers are added). `body` (with
    `content_type`, default text/plain) answers that text instead of the spec's JSON, as a
    registry whose router does not know the path does ("404 page not found"). `message` and
    `body` may name `{name}` (the repository), `{reference}` (tag or digest of the request) and
    `{tag}` (the tag the error is about, else the request's tag); other braces stay as written."""

    when: Dict[str, Any]
    answer: Dict[str, Any]
    name: Optional[str] = None
    _kinds: frozenset = field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        what = f"error rule {self.name!r}" if self.name else "error rule"
        for key, allowed, value in (("when", _WHEN_KEYS, self.when), ("answer", _ANSWER_KEYS, self.answer)):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{what} {key} must be a mapping of {', '.join(allowed)}")
            unknown = sorted(str(k) for k in value if k not in allowed)
            if unknown:
                raise ConfigError(f"{what} {key}: unknown key(s) {', '.join(unknown)}; known: {', '.join(allowed)}")
        if not self.answer:
            raise ConfigError(f"{what} answer must change something: {', '.join(_ANSWER_KEYS)}")
        self._kinds = frozenset(string_list(self.when.get("kinds", []), f"{what} when.kinds"))
        for side_name, side in (("when", self.when), ("answer", self.answer)):
            status = side.get("status")
            if status is not None and (isinstance(status, bool) or not isinstance(status, int)
                                       or not 100 <= status <= 599):
                raise ConfigError(f"{what} {side_name}.status must be an HTTP status (100-599), got {status!r}")
        for key in ("code", "reason"):
            if key in self.when and not isinstance(self.when[key], str):
                raise ConfigError(f"{what} when.{key} must be text, got {self.when[key]!r}")
        if "code" in self.answer and (not isinstance(self.answer["code"], str) or not self.answer["code"]):
            raise ConfigError(f"{what} answer.code must be non-empty text, got {self.answer['code']!r}")
        for key in ("body", "content_type"):
            if key in self.answer and not isinstance(self.answer[key], str):
                raise ConfigError(f"{what} answer.{key} must be text, got {self.answer[key]!r}")
        if "content_type" in self.answer and "body" not in self.answer:
            raise ConfigError(f"{what} answer.content_type goes with answer.body")
        headers = self.answer.get("headers", {})
        if not isinstance(headers, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                       for k, v in headers.items()):
            raise ConfigError(f"{what} answer.headers must map header names to text")

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> ErrorRule:
        return from_mapping(cls, mapping, "error rule")

    def to_dict(self) -> Dict[str, Any]:
        result: Dict[str, Any] = {"when": dict(self.when), "answer": dict(self.answer)}
        if self.name:
            result["name"] = self.name
        return result

    def matches(self, error: RegistryError, kind: str) -> bool:
        when = self.when
        return ((self._kinds == frozenset() or kind in self._kinds)
                and when.get("code", error.code) == error.code
                and when.get("reason", error.reason) == error.reason
                and when.get("status", error.status) == error.status)

    def render(self, error: RegistryError, match: Optional[Match], response: Response) -> Response:
        """The error's answer as this rule words it; headers the answer had besides its body's (the
        API version, Date, a challenge, rate-limit headers) are kept."""
        answer = self.answer
        fill = _placeholders(error, match)
        if "body" in answer:
            payload = fill(answer["body"]).encode()
            content_type = answer.get("content_type", "text/plain; charset=utf-8")
        else:
            entry: Dict[str, Any] = {"code": answer.get("code", error.code),
                                     "message": fill(answer["message"]) if "message" in answer else error.message}
            detail = answer.get("detail", error.detail)
            if detail is not None:
                entry["detail"] = detail
            payload, content_type = json.dumps({"errors": [entry]}).encode(), "application/json"
        kept = [h for h in response.headers if h[0].lower() not in ("content-type", "content-length")]
        return json_response(answer.get("status", error.status), payload,
                             kept + list(answer.get("headers", {}).items()), content_type=content_type)


def _placeholders(error: RegistryError, match: Optional[Match]) -> Callable[[str], str]:
    params = match.params if match is not None else {}
    reference = params.get("reference_") or ""
    detail = error.detail if isinstance(error.detail, dict) else {}
    tag = detail.get("tag") or (reference if reference and ":" not in reference else "")
    values = {"{name}": params.get("name") or detail.get("name") or "", "{reference}": reference, "{tag}": tag}

    def fill(text: str) -> str:
        for placeholder, value in values.items():
            text = text.replace(placeholder, str(value))
        return text
    return fill


class ErrorRuleLayer(RuleListLayer[ErrorRule]):
    """Rewrites error answers by the first matching rule."""

    order = 5  # outside auth, rate limits and faults: their errors can be re-answered too

    def after(self, registry: Registry, request: Request, match: Optional[Match],
              response: Response) -> Response:
        error = request.environ.get("mockreg.error")
        if error is None:
            return response
        kind = match.kind if match is not None else ""
        for rule in self._rules:
            if rule.matches(error, kind):
                return rule.render(error, match, response)
        return response


def layer_of(registry: Registry) -> ErrorRuleLayer:
    return installed(registry, ErrorRuleLayer)
