"""Fault injection: rules that make chosen requests fail, stall or return damaged responses.

A `FaultRule` says which requests it applies to (methods, route kinds, a repository glob) and
which of them it fires on (the `nth` matching call, the `first` N, or a seeded `probability`),
then what happens: an error `status` with a spec error `code` (`Retry-After` on 429/503),
`latency` before the handler, a `drip`-fed body, a body cut short (`truncate_after`, with
Content-Length saying so) or a connection dropped mid-body (`drop_after`), a `corrupt` byte,
a `wrong`/`missing` Docker-Content-Digest, `drop_headers`, a 307 `redirect` of blob GETs to a
storage URL mockreg also serves, and `Warning: 299` headers. Rules combine: every rule that
fires on a request applies its actions.
"""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Mapping, Optional

from .errors import ERROR_CODES, RegistryError
from .handlers import blobs
from .http import Request, Response, empty, json_response
from .layers import Layer
from .mapping import ConfigError, boolean, from_mapping, number, optional_str, string_list, to_mapping
from .routes import Match, route

if TYPE_CHECKING:
    from .registry import Registry

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# Real sleeps are bounded so that a mistyped rule cannot hang a test suite.
MAX_SLEEP = 30.0
STORAGE_URL_TTL = 1200
_EXTRA_CODES = {"UNKNOWN": "unknown error", "UNAVAILABLE": "service unavailable"}
_STATUS_CODES = {401: "UNAUTHORIZED", 403: "DENIED", 405: "UNSUPPORTED", 413: "SIZE_INVALID",
                 416: "SIZE_INVALID", 429: "TOOMANYREQUESTS", 503: "UNAVAILABLE"}
_NOT_FOUND_CODES = {"blob": "BLOB_UNKNOWN", "manifest": "MANIFEST_UNKNOWN", "blob-upload": "BLOB_UPLOAD_UNKNOWN"}
_REDIRECTABLE = ("blob-get", "blob-head")
_WARNING_LIMIT = 4096  # the spec caps warning text across all headers


@dataclass
class FaultRule:
    """One fault; fields are the keys of its scenario-file / control-API mapping."""

    name: Optional[str] = None
    methods: List[str] = field(default_factory=list)
    kinds: List[str] = field(default_factory=list)
    repository: Optional[str] = None
    nth: Optional[int] = None
    first: Optional[int] = None
    probability: Optional[float] = None
    seed: Optional[int] = None
    status: Optional[int] = None
    code: Optional[str] = None
    message: Optional[str] = None
    retry_after: Optional[int] = None
    latency: float = 0.0
    drip_bytes: int = 0
    drip_interval: float = 0.05
    truncate_after: Optional[int] = None
    drop_after: Optional[int] = None
    corrupt: bool = False
    digest_header: Optional[str] = None
    drop_headers: List[str] = field(default_factory=list)
    redirect: bool = False
    redirect_to: Optional[str] = None
    warnings: List[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        what = f"fault {self.name!r}" if self.name else "fault"
        optional_str(self.name, f"{what} name")
        self.methods = [m.upper() for m in string_list(self.methods, f"{what} methods")]
        string_list(self.methods, f"{what} methods", METHODS)
        self.kinds = string_list(self.kinds, f"{what} kinds")
        optional_str(self.repository, f"{what} repository")
        triggers = [key for key in ("nth", "first", "probability") if getattr(self, key) is not None]
        if len(triggers) > 1:
            raise ConfigError(f"{what}: choose one of nth, first, probability, not {' and '.join(triggers)}")
        for key in ("nth", "first"):
            if getattr(self, key) is not None:
                number(getattr(self, key), f"{what} {key}", minimum=1, whole=True)
        if self.probability is not None:
            number(self.probability, f"{what} probability", maximum=1)
        if self.seed is not None:
            number(self.seed, f"{what} seed", minimum=-2 ** 63, whole=True)
        self._check_actions(what)

    def _check_actions(self, what: str) -> None:
        if self.status is not None:
            number(self.status, f"{what} status", minimum=400, maximum=599, whole=True)
        if self.code is not None and self.code not in ERROR_CODES and self.code not in _EXTRA_CODES:
            raise ConfigError(f"{what} code {self.code!r} is not a spec error code; "
                              f"choose from {', '.join(sorted([*ERROR_CODES, *_EXTRA_CODES]))}")
        if (self.code or self.message or self.retry_after is not None) and self.status is None:
            raise ConfigError(f"{what}: code, message and retry_after need a status")
        optional_str(self.message, f"{what} message")
        if self.retry_after is not None:
            number(self.retry_after, f"{what} retry_after", whole=True)
        number(self.latency, f"{what} latency", maximum=MAX_SLEEP)
        number(self.drip_bytes, f"{what} drip_bytes", whole=True)
        number(self.drip_interval, f"{what} drip_interval", maximum=MAX_SLEEP)
        for key in ("truncate_after", "drop_after"):
            if getattr(self, key) is not None:
                number(getattr(self, key), f"{what} {key}", whole=True)
        if self.truncate_after is not None and self.drop_after is not None:
            raise ConfigError(f"{what}: choose truncate_after or drop_after, not both")
        boolean(self.corrupt, f"{what} corrupt")
        if self.digest_header not in (None, "wrong", "missing"):
            raise ConfigError(f"{what} digest_header must be 'wrong' or 'missing', got {self.digest_header!r}")
        self.drop_headers = string_list(self.drop_headers, f"{what} drop_headers")
        boolean(self.redirect, f"{what} redirect")
        optional_str(self.redirect_to, f"{what} redirect_to")
        if self.redirect_to is not None and not self.redirect_to.startswith(("http://", "https://")):
            raise ConfigError(f"{what} redirect_to must be an http(s) base URL, got {self.redirect_to!r}")
        if self.redirect:
            if self.status is not None:
                raise ConfigError(f"{what}: choose status or redirect, not both")
            self.kinds = self.kinds or ["blob-get"]
            if any(kind not in _REDIRECTABLE for kind in self.kinds):
                raise ConfigError(f"{what}: redirect applies to kinds {', '.join(_REDIRECTABLE)} only")
        self.warnings = string_list([self.warnings] if isinstance(self.warnings, str) else self.warnings,
                                    f"{what} warnings")
        if sum(len(w) for w in self.warnings) > _WARNING_LIMIT:
            raise ConfigError(f"{what}: warnings exceed the spec's {_WARNING_LIMIT} bytes")
        if to_mapping(self).keys() <= {"name", "methods", "kinds", "repository", "nth", "first", "probability",
                                       "seed", "drip_interval"}:
            raise ConfigError(f"{what} has no action: give status, latency, drip_bytes, truncate_after, "
                              "drop_after, corrupt, digest_header, drop_headers, redirect or warnings")

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> FaultRule:
        return from_mapping(cls, mapping, "fault")

    def to_dict(self) -> Dict[str, Any]:
        return to_mapping(self)

    def applies_to(self, request: Request, match: Optional[Match]) -> bool:
        if self.methods and request.method not in self.methods:
            return False
        kind = match.kind if match is not None else None
        if (self.kinds or (kind or "").startswith("control")) and kind not in self.kinds:
            return False  # the control API is hit only when named, so it can always remove rules
        if self.repository is not None:
            name = match.params.get("name") if match is not None else None
            return name is not None and fnmatch.fnmatchcase(name, self.repository)
        return True


class _Counter:
    """How often a rule matched and fired; decides whether it fires this time."""

    def __init__(self, rule: FaultRule) -> None:
        self.calls = 0
        self.fired = 0
        self._random = random.Random(rule.seed)

    def take(self, rule: FaultRule) -> bool:
        self.calls += 1
        if rule.nth is not None:
            hit = self.calls == rule.nth
        elif rule.first is not None:
            hit = self.calls <= rule.first
        elif rule.probability is not None:
            hit = self._random.random() < rule.probability
        else:
            hit = True
        self.fired += hit
        return hit


class FaultLayer(Layer):
    """Holds a registry's fault rules and applies those that fire."""

    order = 30

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._rules: Dict[str, FaultRule] = {}
        self._counters: Dict[str, _Counter] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._storage_route = False

    # -- managing rules ----------------------------------------------------------------
    def add(self, rule: FaultRule) -> str:
        """Add a rule; returns its id (its name when it has one)."""
        with self._lock:
            rule_id = rule.name or f"fault-{next(self._ids)}"
            if rule_id in self._rules:
                raise ConfigError(f"a fault named {rule_id!r} exists already")
            self._rules[rule_id] = rule
            self._counters[rule_id] = _Counter(rule)
            if rule.redirect and not self._storage_route:
                self.registry.router.add(route("/_storage/<name>/blobs/(?P<digest>[^/]+)",
                                               get=("storage-blob-get", storage_get),
                                               head=("storage-blob-head", storage_get)))
                self._storage_route = True
        return rule_id

    def remove(self, rule_id: str) -> None:
        with self._lock:
            if self._rules.pop(rule_id, None) is None:
                raise KeyError(f"no fault {rule_id!r}; faults: {', '.join(self._rules) or 'none'}")
            del self._counters[rule_id]

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._counters.clear()

    def rules(self) -> Dict[str, FaultRule]:
        with self._lock:
            return dict(self._rules)

    def stats(self, rule_id: str) -> Dict[str, int]:
        """How many requests the rule matched (`calls`) and how often it fired (`fired`)."""
        with self._lock:
            counter = self._counters[rule_id]
            return {"calls": counter.calls, "fired": counter.fired}

    # -- the Layer ---------------------------------------------------------------------
    def before(self, registry: Registry, request: Request, match: Optional[Match]) -> Optional[Response]:
        if not self._rules:
            return None
        with self._lock:
            fired = [rule for rule_id, rule in self._rules.items()
                     if rule.applies_to(request, match) and self._counters[rule_id].take(rule)]
        if not fired:
            return None
        request.environ["mockreg.faults"] = fired
        delay = min(sum(rule.latency for rule in fired), MAX_SLEEP)
        if delay:
            time.sleep(delay)
        for rule in fired:
            if rule.status is not None:
                return _error(rule, match)
            if rule.redirect and match is not None and match.kind in _REDIRECTABLE:
                return self._redirect(rule, request, match)
        return None

    def after(self, registry: Registry, request: Request, match: Optional[Match],
              response: Response) -> Response:
        fired: Optional[List[FaultRule]] = request.environ.get("mockreg.faults")
        if not fired:
            return response
        for rule in fired:
            _change_headers(rule, response)
        if request.method != "HEAD":
            for rule in fired:
                _change_body(rule, response)
        return response

    def _redirect(self, rule: FaultRule, request: Request, match: Match) -> Response:
        environ = request.environ
        base = rule.redirect_to or f"{environ.get('wsgi.url_scheme', 'http')}://" + (
            environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}")
        expires = int(self.registry.clock()) + STORAGE_URL_TTL
        location = f"{base.rstrip('/')}/_storage/{match.params['name']}/blobs/{match.params['digest']}" \
                   f"?expires={expires}"
        return empty(307, [("Location", location)])


def storage_get(registry: Registry, request: Request, name: str, digest: str) -> Response:
    """A redirect target like a presigned storage URL: no auth, but it expires on the clock."""
    expires = request.arg("expires") or ""
    if not expires.isdigit() or registry.clock() > int(expires):
        raise RegistryError("DENIED", "the storage URL has expired", message="request has expired")
    return blobs.get(registry, request, name, digest)


def _error(rule: FaultRule, match: Optional[Match]) -> Response:
    status = rule.status or 500
    code = rule.code or _default_code(status, match)
    message = rule.message or (ERROR_CODES[code][1] if code in ERROR_CODES else _EXTRA_CODES[code])
    headers = []
    retry_after = rule.retry_after if rule.retry_after is not None else (1 if status in (429, 503) else None)
    if retry_after is not None:
        headers.append(("Retry-After", str(retry_after)))
    body = json.dumps({"errors": [{"code": code, "message": message, "detail": "injected fault"}]}).encode()
    return json_response(status, body, headers)


def _default_code(status: int, match: Optional[Match]) -> str:
    if status == 404:
        kind = match.kind if match is not None else ""
        prefix = next((p for p in sorted(_NOT_FOUND_CODES, key=len, reverse=True) if kind.startswith(p)), "")
        return _NOT_FOUND_CODES.get(prefix, "NAME_UNKNOWN")
    if status == 400 and match is not None and match.kind == "manifest-put":
        return "MANIFEST_INVALID"
    return _STATUS_CODES.get(status, "UNKNOWN")


def _change_headers(rule: FaultRule, response: Response) -> None:
    dropped = {name.lower() for name in rule.drop_headers}
    if rule.digest_header == "missing":
        dropped.add("docker-content-digest")
    headers = [(k, v) for k, v in response.headers if k.lower() not in dropped]
    if rule.digest_header == "wrong":
        headers = [(k, _wrong_digest(v) if k.lower() == "docker-content-digest" else v) for k, v in headers]
    for text in rule.warnings:
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        headers.append(("Warning", f'299 - "{escaped}"'))
    if rule.truncate_after is not None:
        length = _content_length(headers)
        if length is not None and length > rule.truncate_after:
            headers = [(k, str(rule.truncate_after) if k.lower() == "content-length" else v) for k, v in headers]
    response.headers = headers


def _wrong_digest(value: str) -> str:
    """A well-formed digest of the same algorithm that is not the content's."""
    algorithm = value.split(":", 1)[0] if ":" in value else "sha256"
    hasher = hashlib.new(algorithm if algorithm in ("sha256", "sha512") else "sha256", b"wrong:" + value.encode())
    return f"{algorithm}:{hasher.hexdigest()}"


def _content_length(headers: List[Any]) -> Optional[int]:
    for key, value in headers:
        if key.lower() == "content-length" and str(value).isdigit():
            return int(value)
    return None


def _change_body(rule: FaultRule, response: Response) -> None:
    body: Iterable[bytes] = [response.body] if isinstance(response.body, bytes) else response.body
    if rule.corrupt:
        body = _corrupted(body, _content_length(response.headers))
    if rule.truncate_after is not None:
        body = _limited(body, rule.truncate_after, drop=False)
    if rule.drop_after is not None:
        body = _limited(body, rule.drop_after, drop=True)
    if rule.drip_bytes:
        body = _dripped(body, rule.drip_bytes, rule.drip_interval)
    response.body = body


def _corrupted(body: Iterable[bytes], length: Optional[int]) -> Iterator[bytes]:
    """Flip every bit of the body's middle byte: same length, different digest."""
    target = (length or 0) // 2
    offset = 0
    for chunk in body:
        if offset <= target < offset + len(chunk):
            damaged = bytearray(chunk)
            damaged[target - offset] ^= 0xFF
            chunk = bytes(damaged)
        offset += len(chunk)
        yield chunk


def _limited(body: Iterable[bytes], limit: int, drop: bool) -> Iterator[bytes]:
    sent = 0
    for chunk in body:
        room = limit - sent
        if len(chunk) > room:
            if room:
                yield chunk[:room]
            if drop:
                # The live server drops the connection on ConnectionError; in-process, the reader gets it.
                raise ConnectionError(f"mockreg fault: connection dropped after {limit} body bytes")
            return
        sent += len(chunk)
        yield chunk


def _dripped(body: Iterable[bytes], size: int, interval: float) -> Iterator[bytes]:
    budget = MAX_SLEEP
    for chunk in body:
        for start in range(0, len(chunk), size):
            if budget >= interval:
                time.sleep(interval)
                budget -= interval
            yield chunk[start:start + size]


def find(registry: Registry) -> Optional[FaultLayer]:
    return next((layer for layer in registry.layers if isinstance(layer, FaultLayer)), None)


def layer_of(registry: Registry) -> FaultLayer:
    """The registry's fault layer, installed on first use."""
    layer = find(registry)
    if layer is None:
        layer = FaultLayer(registry)
        registry.install_layer(layer)
    return layer
