"""The token-flow pieces both clients of real registries share (mockreg/upstream_auth.py)."""

from __future__ import annotations

import base64

from mockreg.upstream_auth import basic_authorization, scopes_to_ask, token_in, token_query


class Answer:
    def __init__(self, document):
        self._document = document

    def json(self):
        if isinstance(self._document, Exception):
            raise self._document
        return self._document


def test_basic_authorization_encodes_name_and_password():
    header = basic_authorization(("alice", "pa:ss"))
    assert header.startswith("Basic ") and base64.b64decode(header[6:]) == b"alice:pa:ss"


def test_scopes_to_ask_keeps_the_request_scope_first_and_each_scope_once():
    own = "repository:a/b:pull"
    assert scopes_to_ask(own, {}) == own
    assert scopes_to_ask(own, {"scope": "repository:a/b:pull repository:c:pull"}) == f"{own} repository:c:pull"


def test_token_query_names_the_service_only_when_there_is_one():
    assert token_query({"realm": "r", "service": "reg"}, "s1 s2") == [("service", "reg"), ("scope", "s1"),
                                                                       ("scope", "s2")]
    assert token_query({"realm": "r", "service": ""}, "s1") == [("scope", "s1")]


def test_token_in_reads_token_or_access_token_and_nothing_else():
    assert token_in(Answer({"token": "t"})) == "t"
    assert token_in(Answer({"access_token": "o"})) == "o"
    assert token_in(Answer({"token": "", "access_token": ""})) is None
    assert token_in(Answer({"expires_in": 60})) is None
    assert token_in(Answer(["not", "an", "object"])) is None
    assert token_in(Answer(ValueError("not JSON"))) is None
