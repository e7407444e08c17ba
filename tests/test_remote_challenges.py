"""mockreg's own client (seed, export URL) reads upstream WWW-Authenticate challenges with
werkzeug's parser: unquoted parameter values and escaped quotes are read as RFC 9110 §11.2 says
(the regular expression used before dropped the one and cut the other)."""

from __future__ import annotations

import pytest
import responses

from mockreg.challenges import parse_challenge
from mockreg.remote import RemoteRegistry


@pytest.mark.parametrize(("header", "scheme", "params"), [
    ('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"',
     "bearer", {"realm": "https://auth.example/token", "service": "registry.example",
                "scope": "repository:a/b:pull,push"}),
    ('Bearer realm="https://auth.example/token",service=registry.example',  # token form, no quotes
     "bearer", {"realm": "https://auth.example/token", "service": "registry.example"}),
    ('Bearer realm="https://auth.example/token", service="say \\"hi\\"", error=insufficient_scope',
     "bearer", {"realm": "https://auth.example/token", "service": 'say "hi"', "error": "insufficient_scope"}),
    ('BEARER Realm="https://auth.example/token"', "bearer", {"realm": "https://auth.example/token"}),
    ('Basic realm="registry"', "basic", {"realm": "registry"}),
    ("", "", {}),
])
def test_challenges_are_parsed_as_the_rfc_says(header: str, scheme: str, params: dict) -> None:
    assert parse_challenge(header) == (scheme, params)


@responses.activate
def test_a_token_is_fetched_with_an_unquoted_service_parameter() -> None:
    challenge = 'Bearer realm="https://auth.example/token",service=registry.example,scope="repository:a/b:pull"'

    def v2(request):
        if request.headers.get("Authorization") == "Bearer granted":
            return 200, {}, "{}"
        return 401, {"WWW-Authenticate": challenge}, '{"errors": [{"code": "UNAUTHORIZED", "message": "no"}]}'

    responses.add_callback(responses.GET, "https://up.example/v2/", callback=v2)
    token = responses.get("https://auth.example/token", json={"token": "granted"})
    RemoteRegistry("https://up.example", credentials=("ci", "pw")).check()
    assert token.call_count == 1
    query = responses.calls[1].request.params
    assert query["service"] == "registry.example" and query["scope"] == "repository:a/b:pull"
