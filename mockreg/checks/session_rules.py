"""Rules that only a client's sequence of requests shows: waiting as `Retry-After` says, reusing
bearer tokens until they expire, and asking for no more access than the client then uses."""

from __future__ import annotations

import base64
import binascii
import json
from email.utils import parsedate_to_datetime
from typing import Any, Dict, List, Optional, Tuple

from ..auth.tokens import parse_scopes
from .model import INTEROP, RFC9110, SHOULD, TOKEN_SPEC, Exchange, Finding, Rule

_PUSH = {"manifest-put", "blob-upload-start", "blob-upload-status", "blob-upload-patch", "blob-upload-put",
         "blob-upload-cancel"}
_DELETE = {"manifest-delete", "blob-delete"}
_DEFAULT_TTL = 60  # the token spec: "When omitted, this defaults to 60 seconds."


def _retry_delay(value: Optional[str], now: float) -> Optional[float]:
    """Seconds a Retry-After value asks for: delay-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return parsedate_to_datetime(value).timestamp() - now
    except (TypeError, ValueError, IndexError):
        return None


def retry_after_honoured(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    entry = exchange.entry
    key = (exchange.client, entry.method, entry.path)
    findings: List[Finding] = []
    waiting: Dict[Tuple[str, str, str], Tuple[float, Exchange]] = state.setdefault("waiting", {})
    refused = waiting.pop(key, None)
    if refused is not None:
        deadline, answer = refused
        if entry.time < deadline:
            findings.append((f"retried {entry.time - answer.entry.time:.3g} s after a {answer.entry.status} whose "
                             f"Retry-After asked for {answer.entry.header('Retry-After')} s (registry clock)",
                             [answer, exchange]))
    if entry.status in (429, 503):
        delay = _retry_delay(entry.header("Retry-After"), entry.time)
        if delay is not None and delay > 0:
            waiting[key] = (entry.time + delay, exchange)
    return findings


# -- bearer tokens ------------------------------------------------------------------------------------
def _claims(token: str) -> Dict[str, Any]:
    """The payload of a JWT, unverified (only to learn what it grants and when it expires)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return {}
    return payload if isinstance(payload, dict) else {}


def _account(exchange: Exchange) -> str:
    header = exchange.entry.request_headers.get("Authorization") or ""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return "anonymous" if not header else "token"
    try:
        return base64.b64decode(encoded.strip()).decode("utf-8", "replace").split(":", 1)[0]
    except (binascii.Error, ValueError):
        return "?"


def _requested(exchange: Exchange, token: str) -> Tuple[Tuple[str, str, Tuple[str, ...]], ...]:
    scopes = parse_scopes(exchange.entry.args.get("scope", []))
    if scopes:
        return tuple(sorted((s.resource, s.name, tuple(sorted(s.actions))) for s in scopes))
    granted = _claims(token).get("access") or []
    return tuple(sorted((a.get("type", ""), a.get("name", ""), tuple(sorted(a.get("actions") or [])))
                        for a in granted if isinstance(a, dict)))


def _issued(exchange: Exchange) -> Optional[Dict[str, Any]]:
    """The token a token request handed out, with what it was for and until when it is valid."""
    entry = exchange.entry
    answer = exchange.response_json
    if entry.kind != "token" or entry.status != 200 or not isinstance(answer, dict):
        return None
    token = answer.get("access_token") or answer.get("token")
    if not isinstance(token, str):
        return None
    expires_in = answer.get("expires_in")
    ttl = expires_in if isinstance(expires_in, int) else _DEFAULT_TTL
    return {"token": token, "scope": _requested(exchange, token), "expires": entry.time + ttl, "uses": 0,
            "shown": [], "exchange": exchange, "account": _account(exchange)}


def _bearer(exchange: Exchange) -> Optional[str]:
    header = exchange.entry.request_headers.get("Authorization") or ""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _track_tokens(exchange: Exchange, state: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """Count each token's uses and, per client and repository, what was asked for and what was done
    (aggregates, so that a long-running server keeps no exchange it does not need to show)."""
    tokens: Dict[str, Dict[str, Any]] = state.setdefault("tokens", {})
    used = tokens.get(_bearer(exchange) or "")
    if used is not None:
        used["uses"] += 1
        if len(used["shown"]) < 3:
            used["shown"].append(exchange)
        kind, name = exchange.entry.kind, exchange.entry.repository
        if name is not None:
            action = "push" if kind in _PUSH else "delete" if kind in _DELETE else "pull"
            state.setdefault("done", {}).setdefault((used["exchange"].client, name), set()).add(action)
    issued = _issued(exchange)
    if issued is not None:
        if len(tokens) > 1000:  # forget expired tokens; a request bearing one is refused anyway
            for stale in [t for t, v in tokens.items() if v["expires"] <= exchange.entry.time]:
                del tokens[stale]
        tokens[issued["token"]] = issued
        for resource, name, actions in issued["scope"]:
            if resource == "repository":
                wanted = state.setdefault("asked", {}).setdefault((exchange.client, name),
                                                                  {"actions": set(), "first": exchange})
                wanted["actions"].update(actions)
    return issued


def tokens_reused(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    issued = _track_tokens(exchange, state)
    if issued is None:
        return []
    latest: Dict[Any, Dict[str, Any]] = state.setdefault("latest", {})
    now = exchange.entry.time
    if len(latest) > 1000:  # a long-running server: forget tokens that have expired
        for stale in [k for k, v in latest.items() if v["expires"] <= now]:
            del latest[stale]
    key = (exchange.connection, issued["account"], issued["scope"])
    previous = latest.get(key)
    latest[key] = issued
    if previous is not None and previous["expires"] > now and previous["uses"] <= 1:
        return [(f"fetched a new token for {_scope_text(issued['scope'])} while the previous one (valid "
                 f"{previous['expires'] - now:.0f} s more) had been used {previous['uses']} time(s)",
                 [previous["exchange"], *previous["shown"], exchange])]
    return []


def scope_tracker(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    _track_tokens(exchange, state)
    return []


def scopes_wider_than_used(state: Dict[str, Any]) -> List[Finding]:
    """Per client and repository: push/delete asked for (in any token) but never done with a token."""
    asked: Dict[Tuple[str, str], Dict[str, Any]] = state.get("asked", {})
    done: Dict[Tuple[str, str], set] = state.get("done", {})
    findings: List[Finding] = []
    for (client, name), wanted in asked.items():
        used = done.get((client, name))
        if not used:
            continue  # never used: the run may have ended first, which says nothing about need
        unused = sorted(a for a in {"push", "delete", "*"} & wanted["actions"] if a not in used and a != "*")
        if "*" in wanted["actions"] and not used - {"pull"}:
            unused.append("*")
        if unused:
            findings.append((f"asked for {','.join(unused)} on repository {name} and only ever did "
                             f"{','.join(sorted(used))} there with its tokens", [wanted["first"]]))
    return findings


def _scope_text(scope: Tuple[Tuple[str, str, Tuple[str, ...]], ...]) -> str:
    return " ".join(f"{r}:{n}:{','.join(a)}" for r, n, a in scope) or "no scope"


RULES = [
    Rule("OCI-C012", "retry-after-honoured", SHOULD,
         "Servers send the \"Retry-After\" header field to indicate how long the user agent ought to wait before "
         "making a follow-up request.", RFC9110 + "#section-10.2.3",
         "The distribution spec says a 429 SHOULD carry Retry-After (spec.md, Error Codes); a client that "
         "repeats the refused request sooner than asked (on the registry's clock, so a frozen clock in a test "
         "makes every early retry visible) keeps a rate-limited registry refusing it and may count against "
         "the client's quota. Judged per client and request target.", retry_after_honoured, scope="client"),
    Rule("OCI-C013", "token-reused-until-expiry", INTEROP,
         "An opaque `Bearer` token that clients should supply to subsequent requests in the `Authorization` "
         "header.", TOKEN_SPEC + "#token-response-fields",
         "A token is valid for `expires_in` seconds (60 when omitted) and should be reused for the requests "
         "that need its scope; fetching a new token for the same account and scope while the previous one is "
         "valid and was used at most once is a token per request, which doubles the requests and loads the "
         "token service. Judged per connection, so separate runs of a "
         "command-line client (each a new process) never count against each other; a client that opens a new "
         "connection for every request is not judged.",
         tokens_reused, scope="client"),
    Rule("OCI-C014", "token-scope-no-wider-than-used", INTEROP,
         "The resource in question, formatted as one of the space-delimited entries from the `scope` parameters "
         "from the `WWW-Authenticate` header shown above.", TOKEN_SPEC + "#requesting-a-token",
         "A client asks the token service for the scope the registry's challenge named. Asking for "
         "`push`, `delete` or `*` on a repository and then only pulling from it with that token gets the "
         "client refused where the account may only pull (read-only accounts, other people's public "
         "repositories). Judged at the end of the run over tokens the client used.",
         scope_tracker, finish=scopes_wider_than_used, scope="client"),
]
