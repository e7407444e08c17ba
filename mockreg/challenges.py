"""Reading a registry's `WWW-Authenticate` challenge (RFC 9110 §11.6.1), for mockreg's own client.

werkzeug's parser is used because the grammar is subtler than it looks: parameter values may be
tokens or quoted strings (`service=registry.example` as well as `service="registry.example"`),
quoted strings may hold escaped quotes (`"say \\"hi\\""`), and scheme names are case-insensitive.
The regular expression mockreg used before dropped unquoted parameters and cut values at an
escaped quote. This is a cold path (only a 401 from an upstream registry reaches it), so the
cost of importing werkzeug is paid only by `mockreg seed`/`export URL` runs that meet auth.
"""

from __future__ import annotations

from typing import Dict, Tuple

from werkzeug.datastructures import WWWAuthenticate


def parse_challenge(header: str) -> Tuple[str, Dict[str, str]]:
    """("bearer", {"realm": ..., "service": ..., "scope": ...}) from a WWW-Authenticate value;
    the scheme lower-cased, ("", {}) for an empty or unparseable header."""
    parsed = WWWAuthenticate.from_header(header)
    if parsed is None:
        return "", {}
    return parsed.type.lower(), {key.lower(): value for key, value in parsed.parameters.items() if value is not None}
