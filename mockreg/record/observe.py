"""From recorded exchanges to the scenario's behaviour: settings, auth, faults, rate limits.

Each rule looks at what the upstream answered for one kind of request and, where mockreg has
a switch for that answer, sets it; every finding names the exchange it came from. An answer
with no switch is kept as a note (`recorded.notes`) for the reader, never guessed at.
A pure function of the recording, so each rule is tested without a network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..challenges import parse_challenge
from ..digest import looks_like_digest
from .recording import Exchange, Recording

_RATE = re.compile(r"^\s*(\d+)\s*;\s*w=(\d+)")
# What mockreg itself answers with a Docker-Content-Digest header (handlers/common.digest_header).
_DIGEST_KINDS = ("manifest-get", "manifest-head", "manifest-put", "blob-get", "blob-head")
# Delete routes a registry may switch off (405), and the setting that does the same here.
_DELETE_SETTINGS = {"blob-delete": "blob_delete", "blob-upload-cancel": "upload_cancel"}
# The `reason` mockreg gives the error of an API switched off (error_rules.py), per request kind.
_ABSENT_API_REASONS = {"referrers": "referrers-disabled", "catalog": "catalog-disabled"}

Finding = Tuple[Any, str]  # (value, the exchange label it came from)


@dataclass
class Behaviour:
    settings: Dict[str, Finding] = field(default_factory=dict)
    auth: Optional[Finding] = None
    faults: List[Finding] = field(default_factory=list)
    error_rules: List[Finding] = field(default_factory=list)
    rate_limits: List[Finding] = field(default_factory=list)
    notes: List[Dict[str, Any]] = field(default_factory=list)
    errors: List[Dict[str, Any]] = field(default_factory=list)

    def set(self, name: str, value: Any, exchange: Exchange) -> None:
        self.settings.setdefault(name, (value, exchange.label))

    def note(self, text: str, exchange: Exchange) -> None:
        if all(n["behaviour"] != text for n in self.notes):
            self.notes.append({"behaviour": text, "from": exchange.label})


def observe(recording: Recording, replay_password: str, own_credentials: bool) -> Behaviour:
    found = Behaviour()
    exchanges = list(recording.exchanges)
    for rule in RULES:
        rule(found, exchanges, recording)
    _auth(found, exchanges, recording, replay_password, own_credentials)
    return found


def _optional_apis(found: Behaviour, exchanges: List[Exchange], recording: Recording) -> None:
    for ex in exchanges:
        if ex.kind == "referrers" and ex.status == 404 and ex.code in (None, "UNSUPPORTED", "NOT_FOUND"):
            found.set("referrers", False, ex)
        elif ex.kind == "catalog" and ex.status == 404:
            found.set("catalog", False, ex)
        elif ex.kind in _DELETE_SETTINGS and ex.status == 405:
            found.set(_DELETE_SETTINGS[ex.kind], False, ex)
        elif ex.kind == "manifest-delete" and ex.status == 405:
            by_tag = not looks_like_digest(ex.path.rsplit("/", 1)[-1])
            found.set("tag_delete" if by_tag else "manifest_delete", False, ex)


def _uploads(found: Behaviour, exchanges: List[Exchange], recording: Recording) -> None:
    for ex in exchanges:
        if ex.kind != "blob-upload-start" or ex.status != 202:
            continue
        minimum = ex.headers.get("oci-chunk-min-length", "")
        if minimum.isdigit():
            found.set("chunk_min_length", int(minimum), ex)
        source, digest = ex.args.get("from"), ex.args.get("mount")
        if digest and source and (source, digest) in recording.origins:
            # The blob was in `from` (seen there or pushed there), yet the mount became an upload.
            found.set("blob_mount", False, ex)
        elif digest and source:
            found.note("mount answered 202 for a blob the recording never saw in the source repository "
                       "(as any registry answers when it lacks the blob): no setting", ex)
        elif ex.args.get("digest") and not digest:
            found.set("single_post_upload", False, ex)


def _digest_headers(found: Behaviour, exchanges: List[Exchange], recording: Recording) -> None:
    missing: Dict[str, Exchange] = {}
    present = set()
    for ex in exchanges:
        if ex.kind in _DIGEST_KINDS and 200 <= ex.status < 300:
            if "docker-content-digest" in ex.headers:
                present.add(ex.kind)
            else:
                missing.setdefault(ex.kind, ex)
    kinds = sorted(kind for kind in missing if kind not in present)
    if kinds:
        first = min((missing[k] for k in kinds), key=lambda ex: ex.seq)
        found.faults.append(({"name": "recorded-missing-digest-header", "kinds": kinds,
                              "digest_header": "missing"}, first.label))


def _rate_limits(found: Behaviour, exchanges: List[Exchange], recording: Recording) -> None:
    limits: Dict[Tuple[int, int], List[Exchange]] = {}
    for ex in exchanges:
        rate = _RATE.match(ex.headers.get("ratelimit-limit", ""))
        if rate:
            limits.setdefault((int(rate.group(1)), int(rate.group(2))), []).append(ex)
    for position, ((limit, window), seen) in enumerate(sorted(limits.items())):
        kinds = sorted({ex.kind for ex in seen if ex.kind})
        rule: Dict[str, Any] = {"name": f"recorded-rate-limit-{position + 1}", "limit": limit, "window": window}
        if kinds:
            rule["kinds"] = kinds
        found.rate_limits.append((rule, seen[0].label))
        remaining = _RATE.match(seen[0].headers.get("ratelimit-remaining", "") or "")
        if remaining and int(remaining.group(1)) < limit - 1:
            found.note(f"the upstream's window was already in use ({remaining.group(1)} of {limit} left); "
                       "a replay starts with a fresh window", seen[0])


def _failures(found: Behaviour, exchanges: List[Exchange], recording: Recording) -> None:
    """Server errors and refusals nothing in the content explains become faults on the same call."""
    calls: Dict[Tuple[str, Optional[str], Optional[str]], int] = {}
    limited = bool(found.rate_limits)
    for ex in exchanges:
        key = (ex.method, ex.kind, ex.repository)
        calls[key] = calls.get(key, 0) + 1
        if ex.status >= 400:
            _error_note(found, ex)
        if not (ex.status >= 500 or (ex.status == 429 and not limited)) or ex.kind in (None, "token"):
            continue
        rule: Dict[str, Any] = {"name": f"recorded-{ex.status}-{ex.seq}", "methods": [ex.method],
                                "kinds": [ex.kind], "nth": calls[key], "status": ex.status}
        if ex.repository:
            rule["repository"] = ex.repository
        if ex.code and ex.code in _fault_codes():
            rule["code"] = ex.code
        if ex.message:
            rule["message"] = ex.message
        if ex.headers.get("retry-after", "").isdigit():
            rule["retry_after"] = int(ex.headers["retry-after"])
        found.faults.append((rule, ex.label))


def _fault_codes() -> Any:
    from ..errors import ERROR_CODES

    return set(ERROR_CODES) | {"UNKNOWN", "UNAVAILABLE"}


def _error_answers(found: Behaviour, exchanges: List[Exchange], recording: Recording) -> None:
    """Error rules that make the replay answer with the upstream's words: its message for each
    kind and code, and its plain-text body where an optional API is simply absent."""
    seen = set()
    for ex in exchanges:
        if ex.status < 400 or ex.kind in (None, "token") or (ex.kind, ex.code, ex.text) in seen:
            continue
        seen.add((ex.kind, ex.code, ex.text))
        if ex.code and ex.message:
            rule: Dict[str, Any] = {"when": {"kinds": [ex.kind], "code": ex.code},
                                    "answer": {"status": ex.status, "message": ex.message}}
        elif ex.text is not None and ex.kind in _ABSENT_API_REASONS:
            content_type = ex.headers.get("content-type", "text/plain; charset=utf-8")
            rule = {"when": {"reason": _ABSENT_API_REASONS[ex.kind]},
                    "answer": {"status": ex.status, "body": ex.text, "content_type": content_type}}
        else:
            continue
        found.error_rules.append((rule, ex.label))


def _error_note(found: Behaviour, ex: Exchange) -> None:
    key = (ex.kind, ex.status, ex.code)
    if any((e["kind"], e["status"], e.get("code")) == key for e in found.errors):
        return
    entry: Dict[str, Any] = {"kind": ex.kind, "status": ex.status}
    if ex.code:
        entry["code"] = ex.code
    if ex.message:
        entry["message"] = ex.message
    if ex.text is not None:
        entry["body"] = ex.text
    entry["from"] = ex.label
    found.errors.append(entry)


def _redirects_and_links(found: Behaviour, exchanges: List[Exchange], recording: Recording) -> None:
    for ex in exchanges:
        if ex.kind == "blob-get" and ex.status in (302, 307) and "/_record/storage/" in ex.headers.get("location", ""):
            found.faults.append(({"name": "recorded-storage-redirect", "kinds": ["blob-get"], "redirect": True},
                                 ex.label))
            break
    for ex in exchanges:
        link = ex.headers.get("link")
        if ex.kind in ("tags-list", "catalog") and link:
            if "://" in link:
                found.set("link_header", "absolute", ex)
            else:
                found.note(f"{ex.kind} Link form: {link}", ex)
        if ex.headers.get("warning"):
            found.note(f"{ex.kind} answered with Warning: {ex.headers['warning']}", ex)


def _auth(found: Behaviour, exchanges: List[Exchange], recording: Recording, replay_password: str,
          own_credentials: bool) -> None:
    challenge = next((ex for ex in exchanges if ex.status == 401 and ex.headers.get("www-authenticate")), None)
    if own_credentials:
        wanted = challenge.headers["www-authenticate"] if challenge else recording.own_challenge
        if wanted and exchanges:
            found.note(f"the upstream asked for {wanted.split(' ', 1)[0]} auth, which the recorder answered with "
                       "its own credentials: the client saw no challenge, so the replay asks for none",
                       challenge or exchanges[0])
        return
    if challenge is None:
        return
    text = challenge.headers["www-authenticate"]
    scheme, params = parse_challenge(text)
    if scheme not in ("basic", "bearer"):
        found.note(f"the upstream asked for an auth scheme mockreg does not emulate: {text}", challenge)
        return
    config: Dict[str, Any] = {"scheme": scheme}
    if scheme == "bearer" and params.get("service") and '"' not in params["service"]:
        config["service"] = params["service"]
    catalog = any(ex.kind == "catalog" and ex.status == 200 for ex in exchanges)
    config["users"] = [{"name": name, "password": replay_password, "access": {"*": "*"}, "catalog": catalog}
                       for name in sorted(recording.users)]
    if scheme == "bearer" and recording.token_ttl is not None:
        config["token_ttl"] = recording.token_ttl[0]
        found.note(f"tokens live {recording.token_ttl[0]} s (expires_in)", _by_label(exchanges, recording.token_ttl[1]))
    if recording.anonymous_tokens or any(ex.status < 400 and ex.kind not in ("token", "base", None)
                                         and not recording.users for ex in exchanges):
        config["anonymous"] = {"*": ["pull"]}
    found.auth = (config, challenge.label)


def _by_label(exchanges: List[Exchange], label: str) -> Exchange:
    return next(ex for ex in exchanges if ex.label == label)


RULES: List[Callable[[Behaviour, List[Exchange], Recording], None]] = [
    _optional_apis, _uploads, _digest_headers, _rate_limits, _failures, _redirects_and_links, _error_answers]
