"""The control API under /_mockreg/, driven over HTTP as a client in another process would."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Iterator

import pytest
import requests
from edge_support import basic, bearer, push_image
from werkzeug.test import Client

from mockreg import Registry
from mockreg.journal import attach

API = "/_mockreg"
MANIFEST = "/v2/demo/app/manifests/1.0"


@pytest.fixture
def registry() -> Registry:
    registry = Registry(control_api=True)
    push_image(registry, "demo/app")
    return registry


def test_control_api_is_off_by_default():
    client = Client(Registry())
    assert client.get(f"{API}/").status_code == 404
    assert client.post(f"{API}/reset").status_code == 404


def test_index_lists_the_endpoints(live):
    endpoints = requests.get(f"{live.url}{API}/").json()["endpoints"]
    assert "POST /_mockreg/reset" in endpoints and "GET /_mockreg/journal" in endpoints


def test_add_list_and_remove_a_fault_at_run_time(live):
    added = requests.post(f"{live.url}{API}/faults", json={"name": "flaky", "kinds": ["manifest-get"],
                                                           "first": 1, "status": 503})
    assert added.status_code == 201
    assert added.json() == {"id": "flaky", "name": "flaky", "kinds": ["manifest-get"], "first": 1, "status": 503}
    assert requests.get(f"{live.url}{MANIFEST}").status_code == 503
    assert requests.get(f"{live.url}{MANIFEST}").status_code == 200
    listed = requests.get(f"{live.url}{API}/faults").json()["faults"]
    assert listed == [{"id": "flaky", "name": "flaky", "kinds": ["manifest-get"], "first": 1, "status": 503,
                       "calls": 2, "fired": 1}]
    assert requests.get(f"{live.url}{API}/faults/flaky").json()["fired"] == 1
    assert requests.delete(f"{live.url}{API}/faults/flaky").status_code == 200
    assert requests.get(f"{live.url}{API}/faults").json() == {"faults": []}
    assert requests.delete(f"{live.url}{API}/faults/flaky").status_code == 404


def test_delete_all_faults(registry):
    client = Client(registry)
    for status in (500, 502):
        client.post(f"{API}/faults", json={"kinds": ["blob-get"], "status": status})
    assert len(client.get(f"{API}/faults").json["faults"]) == 2
    client.delete(f"{API}/faults")
    assert client.get(f"{API}/faults").json["faults"] == []


@pytest.mark.parametrize("body, detail", [
    ({"kinds": ["blob-get"], "stauts": 500}, "unknown key(s) stauts"),
    ({"kinds": ["blob-get"]}, "has no action"),
    ([1, 2], "must be a JSON object"),
])
def test_bad_fault_is_a_400_naming_the_problem(registry, body, detail):
    response = Client(registry).post(f"{API}/faults", json=body)
    assert response.status_code == 400
    assert detail in response.json["errors"][0]["detail"]


def test_body_that_is_not_json_is_a_400(registry):
    response = Client(registry).post(f"{API}/faults", data=b"{not json", content_type="application/json")
    assert response.status_code == 400 and "not JSON" in response.json["errors"][0]["detail"]


def test_rate_limits_at_run_time(registry):
    client = Client(registry)
    added = client.post(f"{API}/rate-limits", json={"limit": 1, "window": 60, "name": "tight"})
    assert added.status_code == 201
    assert client.get(MANIFEST).status_code == 200
    assert client.get(MANIFEST).status_code == 429
    assert client.get(f"{API}/rate-limits").json == {"rate_limits": [
        {"id": "tight", "limit": 1, "name": "tight", "windows": 1, "windows_dropped": 0}]}
    client.delete(f"{API}/rate-limits/tight")
    assert client.get(MANIFEST).status_code == 200


def test_clock_advance_expires_a_token(live, registry):
    registry.enable_auth(users=[{"name": "admin", "password": "pw", "admin": True}], anonymous={"demo/*": "pull"})
    admin = basic("admin", "pw")
    token = requests.get(f"{live.url}/token", params={"scope": "repository:demo/app:pull"}).json()["token"]
    assert requests.get(f"{live.url}{MANIFEST}", headers=bearer(token)).status_code == 200
    before = requests.get(f"{live.url}{API}/clock", headers=admin).json()["now"]
    moved = requests.post(f"{live.url}{API}/clock", json={"advance": 301}, headers=admin).json()
    assert moved["now"] >= before + 301
    expired = requests.get(f"{live.url}{MANIFEST}", headers=bearer(token))
    assert expired.status_code == 401 and 'error="invalid_token"' in expired.headers["WWW-Authenticate"]


def test_clock_freeze_and_unfreeze(registry):
    client = Client(registry)
    assert client.post(f"{API}/clock", json={"freeze": 1_000_000}).json == {"now": 1_000_000, "frozen": True}
    assert client.post(f"{API}/clock", json={"advance": 5}).json["now"] == 1_000_005
    assert client.post(f"{API}/clock", json={"unfreeze": True}).json["frozen"] is False


@pytest.mark.parametrize("body", [{"advance": -1}, {"advance": "soon"}, {"rewind": 5}, {},
                                  {"advance": 1, "freeze": True}, {"freeze": "now"}, {"unfreeze": 1}])
def test_bad_clock_changes_are_400(registry, body):
    assert Client(registry).post(f"{API}/clock", json=body).status_code == 400


def test_reset_forgets_content_faults_and_rate_limits(registry):
    client = Client(registry)
    client.post(f"{API}/faults", json={"kinds": ["blob-get"], "status": 500})
    client.post(f"{API}/rate-limits", json={"limit": 100})
    assert client.post(f"{API}/reset").json == {"reset": True}
    assert registry.repositories() == []
    assert client.get(f"{API}/faults").json["faults"] == []
    assert client.get(f"{API}/rate-limits").json["rate_limits"] == []


def test_settings_change_at_run_time(registry):
    client = Client(registry)
    assert client.get(f"{API}/settings").json["referrers"] is True
    assert client.post(f"{API}/settings", json={"referrers": False}).json["referrers"] is False
    assert client.get(f"/v2/demo/app/referrers/sha256:{'a' * 64}").status_code == 404
    refused = client.post(f"{API}/settings", json={"referers": False})
    assert refused.status_code == 400 and "unknown setting" in refused.json["errors"][0]["detail"]


def test_load_a_scenario_file_with_faults(registry, tmp_path):
    scenario = tmp_path / "flaky.yaml"
    scenario.write_text("version: 1\n"
                        "repositories:\n"
                        "  library/tool:\n"
                        "    images:\n"
                        "      - tags: [stable]\n"
                        "        layers: [{files: {bin/tool: hi}}]\n"
                        "faults:\n"
                        "  - {name: flaky, kinds: [blob-get], first: 1, status: 503}\n")
    client = Client(registry)
    loaded = client.post(f"{API}/scenario", json={"path": str(scenario)})
    assert loaded.json == {"loaded": str(scenario), "repositories": ["library/tool"]}
    assert registry.tags("library/tool") == ["stable"]
    assert [rule["id"] for rule in client.get(f"{API}/faults").json["faults"]] == ["flaky"]


@pytest.mark.parametrize("body, detail", [
    ({"path": "/no/such/scenario.yaml"}, "scenario.yaml"), ({"file": "x"}, '{"path": "FILE"}'), ({"path": 3}, "path"),
])
def test_bad_scenario_requests_are_400(registry, body, detail):
    response = Client(registry).post(f"{API}/scenario", json=body)
    assert response.status_code == 400 and detail in response.json["errors"][0]["detail"]


def test_journal_over_http(registry):
    attach(registry)
    client = Client(registry)
    client.get(MANIFEST, headers=bearer("secret-token"))
    entries = client.get(f"{API}/journal").json["entries"]
    assert entries[0]["kind"] == "manifest-get" and entries[0]["status"] in (200, 401)
    assert entries[0]["request_headers"]["Authorization"] == "Bearer (redacted)"
    assert client.post(f"{API}/reset").status_code == 200
    assert [entry["kind"] for entry in client.get(f"{API}/journal").json["entries"]] == ["control-reset"]


def test_journal_missing_is_a_clear_404(registry):
    response = Client(registry).get(f"{API}/journal")
    assert response.status_code == 404 and "no request journal" in response.json["errors"][0]["detail"]


@pytest.fixture(params=[True, False], ids=["with-flag", "without-flag"])
def served(request) -> Iterator[str]:
    flag = ["--control-api"] if request.param else []
    process = subprocess.Popen([sys.executable, "-m", "mockreg", "serve", "--port", "0", *flag],
                               stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()  # type: ignore[union-attr]
        found = re.search(r"https?://\S+", line)
        assert found, f"mockreg serve did not print its URL: {line!r}"
        yield found.group(0)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_mockreg_serve_has_the_control_api_only_with_its_flag(served, request):
    added = requests.post(f"{served}{API}/faults", json={"kinds": ["base"], "status": 502})
    if "without-flag" in request.node.callspec.id:
        assert added.status_code == 404
        assert requests.get(f"{served}/v2/").status_code == 200
    else:
        assert added.status_code == 201
        assert requests.get(f"{served}/v2/").status_code == 502


def test_catch_all_faults_and_limits_spare_the_control_api(registry):
    client = Client(registry)
    client.post(f"{API}/faults", json={"status": 500})
    client.post(f"{API}/rate-limits", json={"limit": 0})
    assert client.get(MANIFEST).status_code in (429, 500)
    assert client.delete(f"{API}/faults").status_code == 200
    assert client.delete(f"{API}/rate-limits").status_code == 200
    assert client.get(MANIFEST).status_code == 200
    client.post(f"{API}/faults", json={"kinds": ["control-clock"], "status": 503})
    assert client.get(f"{API}/clock").status_code == 503
