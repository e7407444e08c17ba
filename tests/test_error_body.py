"""The spec's error body (RegistryError.body) is written by hand for speed: it must stay exactly
what `json.dumps({"errors": [error]})` gives, since clients and the byte counts of HEAD answers
(Content-Length of the body a GET would get) depend on it."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from mockreg.errors import ERROR_CODES, RegistryError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3),
    max_leaves=8)
details = st.none() | st.text() | st.dictionaries(st.text(), st.text(), max_size=4) | json_values


def expected_body(error: RegistryError) -> bytes:
    entry = {"code": error.code, "message": error.message}
    if error.detail is not None:
        entry["detail"] = error.detail
    return json.dumps({"errors": [entry]}).encode()


@given(code=st.sampled_from(sorted(ERROR_CODES)), detail=details, message=st.none() | st.text(min_size=1))
def test_the_body_is_what_json_dumps_writes(code, detail, message):
    error = RegistryError(code, detail, message=message)
    body = error.body()
    assert body == expected_body(error)
    assert json.loads(body)["errors"][0]["code"] == code


def test_the_message_names_status_code_and_detail_when_shown():
    error = RegistryError("BLOB_UNKNOWN", {"digest": "sha256:ab"})
    assert str(error) == "404 BLOB_UNKNOWN: blob unknown to registry ({'digest': 'sha256:ab'})"
    assert str(RegistryError("DENIED", message="no")) == "403 DENIED: no"
