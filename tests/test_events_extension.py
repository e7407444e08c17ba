"""The `_events` extension: discover lists it, pages follow the spec's `n`/`last`/`Link`
pagination, the Server-Sent Events stream ends by count, time, or when the server stops, the
repository level filters, and auth guards both levels."""

from __future__ import annotations

import json
import re
import threading
from typing import Any, Dict, Iterator, List, Optional

import pytest
import requests
from events_support import sha256

from mockreg import Registry
from mockreg.server import LiveServer


@pytest.fixture
def events_registry() -> Iterator[Any]:
    registry = Registry()
    registry.extensions.enable("events")
    with LiveServer(registry) as server:
        yield registry, server
    registry.notifications.close()


def push_blobs(url: str, name: str, count: int) -> None:
    for i in range(count):
        data = f"{name} blob {i}".encode()
        answer = requests.post(f"{url}/v2/{name}/blobs/uploads/?digest={sha256(data)}", data=data)
        assert answer.status_code == 201


def sse(text: str) -> List[Dict[str, Any]]:
    """The events of a Server-Sent Events body (comment lines skipped)."""
    found = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if fields:
            found.append(fields)
    return found


def test_discover_lists_both_levels_with_the_docs_url(events_registry) -> None:
    registry, server = events_registry
    listed = requests.get(f"{server.url}/v2/_oci/ext/discover").json()["extensions"]
    assert listed == [{"name": "_events", "url": "https://github.com/mockreg/mockreg/blob/main/docs/events.md",
                       "description": listed[0]["description"],
                       "endpoints": ["/v2/_events/log/page", "/v2/_events/log/stream"]}]
    assert listed[0]["url"].endswith("docs/events.md")
    in_repository = requests.get(f"{server.url}/v2/demo/app/_oci/ext/discover").json()["extensions"]
    assert in_repository[0]["endpoints"] == ["/v2/demo/app/_events/log/page", "/v2/demo/app/_events/log/stream"]


def test_pages_follow_link_headers_through_every_event(events_registry) -> None:
    registry, server = events_registry
    push_blobs(server.url, "demo/app", 7)
    url: Optional[str] = f"{server.url}/v2/_events/log/page?n=3"
    pages: List[List[str]] = []
    while url:
        answer = requests.get(url)
        assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
        pages.append([e["id"] for e in answer.json()["events"]])
        link = answer.headers.get("Link")
        url = server.url + re.match(r'^<([^>]+)>; rel="next"$', link).group(1) if link else None
    assert [len(page) for page in pages] == [3, 3, 1]
    assert sum(pages, []) == [e["id"] for e in registry.notifications.events()]
    everything = requests.get(f"{server.url}/v2/_events/log/page").json()["events"]
    assert [e["id"] for e in everything] == sum(pages, [])
    after_last = requests.get(f"{server.url}/v2/_events/log/page?last={pages[-1][-1]}")
    assert after_last.json() == {"events": []} and "Link" not in after_last.headers


def test_the_repository_level_sees_only_its_repository(events_registry) -> None:
    registry, server = events_registry
    push_blobs(server.url, "demo/app", 2)
    push_blobs(server.url, "other/app", 3)
    page = requests.get(f"{server.url}/v2/other/app/_events/log/page?n=2")
    assert [e["target"]["repository"] for e in page.json()["events"]] == ["other/app", "other/app"]
    assert page.headers["Link"].startswith("</v2/other/app/_events/log/page?n=2&last=")
    streamed = sse(requests.get(f"{server.url}/v2/demo/app/_events/log/stream?n=2&timeout=10").text)
    assert [json.loads(e["data"])["target"]["repository"] for e in streamed] == ["demo/app", "demo/app"]


def test_bad_parameters_answer_400_with_a_reason(events_registry) -> None:
    registry, server = events_registry
    for query in ("n=-1", "n=abc", "last=no-such-event"):
        answer = requests.get(f"{server.url}/v2/_events/log/page?{query}")
        assert answer.status_code == 400, query
        assert answer.json()["errors"][0]["code"] == "UNSUPPORTED"
    for query in ("timeout=0", "timeout=301", "timeout=soon", "last=gone"):
        assert requests.get(f"{server.url}/v2/_events/log/stream?{query}").status_code == 400, query


def test_the_stream_sends_backlog_then_new_events_and_stops_after_n(events_registry) -> None:
    registry, server = events_registry
    push_blobs(server.url, "demo/app", 2)
    received: List[str] = []
    reader = threading.Thread(target=lambda: received.append(
        requests.get(f"{server.url}/v2/_events/log/stream?n=4&timeout=60").text))
    reader.start()
    push_blobs(server.url, "demo/app", 3)  # two of these arrive while the stream is open
    reader.join(60)
    assert not reader.is_alive()
    events = sse(received[0])
    logged = registry.notifications.events()
    assert [e["id"] for e in events] == [e["id"] for e in logged[:4]]
    assert [e["event"] for e in events] == ["push"] * 4
    assert json.loads(events[0]["data"]) == logged[0]


def test_the_stream_resumes_after_last_event_id(events_registry) -> None:
    registry, server = events_registry
    push_blobs(server.url, "demo/app", 3)
    first = registry.notifications.events()[0]["id"]
    answer = requests.get(f"{server.url}/v2/_events/log/stream?n=2&timeout=10", headers={"Last-Event-ID": first})
    assert answer.headers["Content-Type"] == "text/event-stream"
    assert [e["id"] for e in sse(answer.text)] == [e["id"] for e in registry.notifications.events()[1:]]


def test_an_idle_stream_ends_after_its_timeout(events_registry) -> None:
    registry, server = events_registry
    answer = requests.get(f"{server.url}/v2/_events/log/stream?timeout=0.3")
    assert answer.status_code == 200 and sse(answer.text) == []
    assert answer.text.startswith(": mockreg events stream")


@pytest.mark.parametrize("close_notifications", [True, False], ids=["as serve stops", "server alone"])
def test_open_streams_end_when_the_server_stops(close_notifications: bool) -> None:
    registry = Registry()
    registry.extensions.enable("events")
    server = LiveServer(registry).start()
    outcome: List[Any] = []

    def read() -> None:
        try:
            outcome.append(requests.get(f"{server.url}/v2/_events/log/stream?timeout=300", timeout=120).text)
        except requests.RequestException as exc:  # a hang-up is an end too
            outcome.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    while not any(t.name.endswith("connection") for t in threading.enumerate()):
        threading.Event().wait(0.01)
    if close_notifications:
        registry.notifications.close()  # what `mockreg serve` does before it stops the server
    server.stop()  # alone, it hangs up: the stream's next idle line fails and ends it
    reader.join(60)
    assert not reader.is_alive() and outcome


# -- auth ----------------------------------------------------------------------------------------
USERS = [{"name": "reader", "password": "pw", "access": {"demo/*": "pull"}},
         {"name": "cataloguer", "password": "pw", "catalog": True, "access": {"demo/*": "pull"}}]


@pytest.mark.parametrize("scheme", ["basic", "bearer"])
def test_the_registry_level_needs_the_catalog_scope(events_registry, scheme: str) -> None:
    registry, server = events_registry
    registry.enable_auth(scheme=scheme, users=USERS)
    page = f"{server.url}/v2/_events/log/page"
    anonymous = requests.get(page)
    assert anonymous.status_code == 401
    if scheme == "bearer":
        assert 'scope="registry:catalog:*"' in anonymous.headers["WWW-Authenticate"]
    assert _get(server.url, page, scheme, "reader").status_code in (401, 403)
    assert _get(server.url, page, scheme, "cataloguer").status_code == 200


@pytest.mark.parametrize("scheme", ["basic", "bearer"])
def test_the_repository_level_needs_pull_on_the_repository(events_registry, scheme: str) -> None:
    registry, server = events_registry
    registry.enable_auth(scheme=scheme, users=USERS)
    assert _get(server.url, f"{server.url}/v2/demo/app/_events/log/page", scheme, "reader").status_code == 200
    denied = _get(server.url, f"{server.url}/v2/secret/app/_events/log/page", scheme, "reader")
    assert denied.status_code in (401, 403)
    assert requests.get(f"{server.url}/v2/demo/app/_events/log/stream?timeout=1").status_code == 401


def _get(base: str, url: str, scheme: str, user: str) -> requests.Response:
    if scheme == "basic":
        return requests.get(url, auth=(user, "pw"))
    challenge = requests.get(url).headers["WWW-Authenticate"]
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    token = requests.get(params["realm"], params={"service": params["service"], "scope": params.get("scope", "")},
                         auth=(user, "pw")).json()["token"]
    return requests.get(url, headers={"Authorization": f"Bearer {token}"})


def test_a_registry_without_the_extension_answers_extension_unknown(registry: Registry) -> None:
    with LiveServer(registry) as server:
        answer = requests.get(f"{server.url}/v2/_events/log/page")
    assert answer.status_code == 404 and answer.json()["errors"][0]["code"] == "EXTENSION_UNKNOWN"


def test_scenarios_switch_it_on_for_chosen_repositories(tmp_path) -> None:
    from mockreg.scenario import Scenario

    path = tmp_path / "events.yaml"
    path.write_text("version: 1\nextensions:\n  - builtin: events\n    repositories: [demo/*]\n")
    registry = Registry()
    Scenario.load(path).apply(registry)
    with LiveServer(registry) as server:
        push_blobs(server.url, "demo/app", 1)
        assert len(requests.get(f"{server.url}/v2/demo/app/_events/log/page").json()["events"]) == 1
        assert requests.get(f"{server.url}/v2/other/app/_events/log/page").status_code == 404
    registry.notifications.close()
