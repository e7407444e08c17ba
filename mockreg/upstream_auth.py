"""Credentials towards a real registry, shared by mockreg's two clients of one (`mockreg seed` /
`export URL` in remote.py, `mockreg record` in record/upstream.py): the Basic header and the
pieces of docker's token flow, which scopes to ask for, the token endpoint's query and the token
in its answer. How each client answers a failure stays its own: the recorder passes the
upstream's refusal on, seed and export stop with a message."""

from __future__ import annotations

import base64
from typing import Any, Dict, List, Optional, Tuple


def basic_authorization(credentials: Tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(":".join(credentials).encode()).decode()


def scopes_to_ask(scope: str, challenge: Dict[str, str]) -> str:
    """The request's own scope and any the challenge names, each once, in that order."""
    return " ".join(dict.fromkeys(f"{scope} {challenge.get('scope', '')}".split()))


def token_query(bearer: Dict[str, str], scopes: str) -> List[Tuple[str, str]]:
    """The query of a GET to the challenge's realm: its service, then one `scope` per scope."""
    query = [("service", bearer["service"])] if bearer["service"] else []
    return query + [("scope", item) for item in scopes.split()]


def token_in(answer: Any) -> Optional[str]:
    """The token of a token endpoint's answer (`token`, or OAuth2's `access_token`); None if it has none."""
    try:
        document = answer.json()
        return document.get("token") or document.get("access_token") or None
    except (ValueError, AttributeError):
        return None
