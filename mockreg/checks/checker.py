"""`ClientChecks`: grades a registry's clients against the rule catalogue while the journal
records their requests. An observer: it never changes an answer.

The journal calls `capture` before and `observe` after each request only while checks are on
(one `is None` test per request otherwise). Per-request rules report as soon as the request is
answered (`on_violation`, which `mockreg serve --check-clients` logs); rules that need the whole
run (a fallback never taken, an upload never closed) report from `violations()`.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable, Dict, Iterable, List, Optional

from ..http import Request, Response
from ..journal import Entry
from .catalogue import select
from .model import LEVELS, Exchange, Finding, Rule, Violation, at_least

_BODY_KEY = "mockreg.checks.body"
_EXTRA_HEADERS = (("Content-Length", "CONTENT_LENGTH"), ("If-Match", "HTTP_IF_MATCH"),
                  ("If-None-Match", "HTTP_IF_NONE_MATCH"), ("User-Agent", "HTTP_USER_AGENT"))
_KEPT = 10_000  # violations kept, like the journal's entries (a long `serve` must not grow without bound)
_BODY_LIMIT = 4 * 1024 * 1024  # manifests larger than this are judged without their body (the spec's 4 MB)


class ClientChecks:
    """The rules being run for one registry and what they found."""

    def __init__(self, rules: Optional[Iterable[str]] = None, ignore: Iterable[str] = (),
                 on_violation: Optional[Callable[[Violation], None]] = None) -> None:
        self.rules: List[Rule] = select(rules, ignore)
        self.on_violation = on_violation
        self._states: Dict[str, Dict[str, Any]] = {rule.id: {} for rule in self.rules}
        # Per route kind, the rules that look at it (most rules concern a few kinds).
        self._always = [rule for rule in self.rules if rule.kinds is None]
        self._by_kind: Dict[Optional[str], List[Rule]] = {}
        for rule in self.rules:
            for kind in rule.kinds or ():
                self._by_kind.setdefault(kind, []).append(rule)
        self._found: List[Violation] = []
        self.dropped = 0  # violations that fell off the bounded list
        self._lock = threading.Lock()

    # -- the request path (only while checks are on) -------------------------------------------
    def capture(self, request: Request, kind: Optional[str]) -> None:
        """Keep a copy of a manifest PUT's body (several rules read it) as the handler reads it; what
        the handler left unread is read after the answer (see `_copied`)."""
        if kind == "manifest-put":
            environ = request.environ
            environ["wsgi.input"] = environ[_BODY_KEY] = _CopyingInput(environ["wsgi.input"])

    def observe(self, entry: Entry, request: Request, response: Response) -> None:
        environ = request.environ
        address = environ.get("REMOTE_ADDR") or "in-process"
        faults = environ.get("mockreg.faults") or ()
        keep_answer = (entry.status >= 400 or entry.kind == "token") and isinstance(response.body, bytes)
        exchange = Exchange(
            entry, f"{address} {environ.get('HTTP_USER_AGENT') or '-'}", f"{address}:{environ.get('REMOTE_PORT', '-')}",
            _copied(environ.get(_BODY_KEY), request),
            response.body if keep_answer else None,  # type: ignore[arg-type]
            any(getattr(rule, "corrupt", False) for rule in faults),
            {name: environ[key] for name, key in _EXTRA_HEADERS if key in environ})
        new: List[Violation] = []
        with self._lock:
            for rule in self._by_kind.get(entry.kind, ()):
                findings = rule.observe(exchange, self._states[rule.id])
                if findings:
                    new.extend(_violations(rule, findings))
            for rule in self._always:
                findings = rule.observe(exchange, self._states[rule.id])
                if findings:
                    new.extend(_violations(rule, findings))
            self._found.extend(new)
            if len(self._found) > _KEPT:
                self.dropped += len(self._found) - _KEPT
                del self._found[:len(self._found) - _KEPT]
        if self.on_violation is not None:
            for violation in new:
                try:
                    self.on_violation(violation)
                except Exception as exc:  # an observer never changes the answer, even when its reporter fails
                    print(f"mockreg: client checks could not report {violation.rule.id}: {exc!r}", file=sys.stderr)

    # -- reading -----------------------------------------------------------------------------------
    def violations(self, level: str = "INTEROP") -> List[Violation]:
        """What was found so far, plus what the end of the run shows, at `level` and stricter."""
        with self._lock:
            found = list(self._found)
            for rule in self.rules:
                if rule.finish is not None:
                    found.extend(_violations(rule, rule.finish(self._states[rule.id])))
        return [v for v in found if at_least(v.level, level)]

    def clear(self) -> None:
        with self._lock:
            self._found.clear()
            self.dropped = 0
            for state in self._states.values():
                state.clear()

    def report(self, level: str = "INTEROP") -> str:
        """Every violation at `level` and stricter, described in full, or "" when there is none."""
        found = self.violations(level)
        if not found:
            return ""
        counts = ", ".join(f"{sum(v.level == each for v in found)} {each}" for each in LEVELS
                           if any(v.level == each for v in found))
        return f"{len(found)} client rule violation(s) ({counts}):\n" + "\n".join(v.describe() for v in found)


class _CopyingInput:
    """wsgi.input that keeps what is read through it, up to `_BODY_LIMIT` bytes."""

    __slots__ = ("_stream", "data", "overflowed")

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.data = bytearray()
        self.overflowed = False

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        if len(self.data) + len(chunk) <= _BODY_LIMIT:
            self.data += chunk
        else:
            self.overflowed = True
        return chunk

    def readline(self, size: int = -1) -> bytes:
        line = self._stream.readline(size)
        if len(self.data) + len(line) <= _BODY_LIMIT:
            self.data += line
        else:
            self.overflowed = True
        return line


def _copied(captured: Optional[_CopyingInput], request: Request) -> Optional[bytes]:
    """The body of a manifest PUT. A request answered before its body was read (a layer or a strict
    setting refused it first) is read to its end here, within the limit, so it can still be judged."""
    if captured is None or captured.overflowed:
        return None
    try:
        length = request.content_length
    except Exception:  # a malformed Content-Length was answered already; nothing to judge
        return None
    if length is None:
        captured.read(_BODY_LIMIT + 1 - len(captured.data))
    elif len(captured.data) < length <= _BODY_LIMIT:
        captured.read(length - len(captured.data))
    return None if captured.overflowed else bytes(captured.data)


def _violations(rule: Rule, findings: List[Finding]) -> List[Violation]:
    return [Violation(rule, message, tuple(str(e) for e in exchanges), exchanges[0].client if exchanges else "-")
            for message, exchanges in findings]
