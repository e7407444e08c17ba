"""Delivery off the request path: slow, failing and dead endpoints never change or hold up a
registry answer; retries, bounded queues, filters and order per endpoint (distribution
notifications/sinks.go, endpoint.go)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterator, List

import pytest
import requests
from events_support import free_port, sha256

from mockreg import Registry
from mockreg.events.webhook import WebhookReceiver
from mockreg.server import LiveServer


@pytest.fixture
def live_registry() -> Iterator[Any]:
    registry = Registry()
    with LiveServer(registry) as server:
        yield registry, server
    registry.notifications.close()


def push_blob(url: str, name: str, data: bytes) -> int:
    return requests.post(f"{url}/v2/{name}/blobs/uploads/?digest={sha256(data)}", data=data).status_code


def test_a_blocked_endpoint_never_holds_up_an_answer(live_registry) -> None:
    registry, server = live_registry
    gate = threading.Event()
    with WebhookReceiver() as hook:
        hook.status = lambda envelope: 200 if gate.wait(30) else 500
        hook.subscribe(registry)
        answers = [push_blob(server.url, "demo/app", f"blob {i}".encode()) for i in range(5)]
        assert answers == [201] * 5  # all answered while the first delivery is still waiting at the gate
        endpoint = registry.notifications.endpoint("mockreg_webhook")
        assert endpoint.metrics()["successes"] == 0 and endpoint.pending == 5
        assert registry.repositories() == ["demo/app"]
        gate.set()
        hook.assert_count(5, "push")
        assert endpoint.metrics()["successes"] == 5


def test_a_slow_endpoint_times_out_and_is_retried_until_it_answers(live_registry) -> None:
    registry, server = live_registry
    with WebhookReceiver() as hook:
        hook.delay = 0.5
        endpoint = hook.subscribe(registry, over_socket=True, timeout="50ms", backoff="10ms")
        assert push_blob(server.url, "demo/app", b"slow") == 201
        endpoint_errors: List[Any] = []
        while not endpoint_errors:  # wait for a timed-out attempt, however long the machine takes
            endpoint_errors = [d for d in endpoint.deliveries() if not d.ok]
            threading.Event().wait(0.01)
        assert endpoint_errors[0].status is None and "timed out" in endpoint_errors[0].error
        hook.delay = 0
        assert registry.notifications.flush(30)
        final = endpoint.deliveries()[-1]
        assert final.ok and final.status == 200 and final.attempt >= 2
        assert endpoint.metrics()["errors"] >= 1
        # A timed-out POST may still have arrived: delivery is at least once, as in the reference.
        assert {e["target"]["digest"] for e in hook.events} == {sha256(b"slow")}


def test_a_failing_endpoint_gets_the_event_again_until_it_takes_it(live_registry) -> None:
    registry, server = live_registry
    answers = iter([500, 503, 202])
    with WebhookReceiver() as hook:
        hook.status = lambda envelope: next(answers)
        endpoint = hook.subscribe(registry, threshold=5, backoff="10ms")
        assert push_blob(server.url, "demo/app", b"retried") == 201
        event = hook.assert_event("push", "demo/app")
        registry.notifications.flush()
        attempts = [(d.event_id, d.attempt, d.status, d.ok) for d in endpoint.deliveries()]
        assert attempts == [(event["id"], 1, 500, False), (event["id"], 2, 503, False), (event["id"], 3, 202, True)]
        metrics = endpoint.metrics()
        assert (metrics["failures"], metrics["successes"], metrics["errors"]) == (2, 1, 0)
        assert metrics["statuses"] == {"500 Internal Server Error": 1, "503 Service Unavailable": 1, "202 Accepted": 1}
        assert "response status 500" in endpoint.deliveries()[0].error


def test_a_dead_endpoint_fills_its_bounded_queue_and_counts_what_it_drops(live_registry) -> None:
    registry, server = live_registry
    dead = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    endpoint = registry.notifications.add_endpoint(dead, name="dead", queuesize=3, threshold=1, backoff="1h")
    answers = [push_blob(server.url, "demo/app", f"blob {i}".encode()) for i in range(10)]
    assert answers == [201] * 10
    assert registry.repositories() == ["demo/app"] and len(registry.store.blobs) == 10
    metrics = endpoint.metrics()
    assert metrics["pending"] == 3 and metrics["events"] == 3 and metrics["dropped"] == 7
    deadline_errors = endpoint.deliveries()
    while not deadline_errors:
        threading.Event().wait(0.01)
        deadline_errors = endpoint.deliveries()
    assert deadline_errors[0].status is None and "error posting" in deadline_errors[0].error
    assert len(endpoint.deliveries()) == 1  # threshold 1, backoff 1h: no hammering a dead endpoint
    assert not registry.notifications.flush(timeout=0.05)


def test_ignore_filters_actions_and_media_types_independently(live_registry) -> None:
    registry, server = live_registry
    with WebhookReceiver() as no_pulls, WebhookReceiver() as no_blobs:
        no_pulls.subscribe(registry, name="no-pulls", ignore={"actions": ["pull"]})
        no_blobs.subscribe(registry, name="no-blobs", ignoredmediatypes=["application/octet-stream"])
        assert push_blob(server.url, "demo/app", b"data") == 201
        assert requests.get(f"{server.url}/v2/demo/app/blobs/{sha256(b'data')}").status_code == 200
        registry.notifications.flush()
        assert [e["action"] for e in no_pulls.events] == ["push"]
        assert no_blobs.events == []
        assert registry.notifications.endpoint("no-blobs").metrics()["ignored"] == 2


def test_configured_headers_are_sent_and_the_control_api_redacts_them(live_registry) -> None:
    registry, server = live_registry
    registry.enable_control_api()
    with WebhookReceiver() as hook:
        hook.subscribe(registry, over_socket=True, headers={"Authorization": ["Bearer s3cret"], "X-Env": "test"})
        push_blob(server.url, "demo/app", b"x")
        hook.assert_event("push")
        assert registry.notifications.flush()  # the endpoint records its success after the answer
        assert hook.deliveries[0].headers["authorization"] == "Bearer s3cret"
        assert hook.deliveries[0].headers["x-env"] == "test"
        state = requests.get(f"{server.url}/_mockreg/notifications").json()
        assert "s3cret" not in str(state)
        assert state["endpoints"][0]["headers"] == {"Authorization": ["(redacted)"], "X-Env": ["(redacted)"]}
        assert state["endpoints"][0]["metrics"]["successes"] == 1
        assert state["endpoints"][0]["deliveries"][0]["status"] == 200


def test_events_reach_each_endpoint_in_the_order_they_happened(live_registry) -> None:
    """Eight clients push concurrently; every endpoint, however slow, gets the events in the
    registry's own order (its log), and each repository's blobs come before its manifest."""
    registry, server = live_registry
    registry.notifications.keep_log()
    with WebhookReceiver() as fast, WebhookReceiver() as slow:
        fast.subscribe(registry, name="fast")
        slow.delay = 0.002
        slow.subscribe(registry, name="slow", over_socket=True)

        def client(number: int) -> List[int]:
            name = f"team{number}/app"
            statuses = [push_blob(server.url, name, f"{name} layer {i}".encode()) for i in range(3)]
            config = f"{name} config".encode()
            statuses.append(push_blob(server.url, name, config))
            manifest = _manifest(config, [f"{name} layer {i}".encode() for i in range(3)])
            statuses.append(requests.put(f"{server.url}/v2/{name}/manifests/1.0", data=manifest,
                                         headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
                            .status_code)
            return statuses

        with ThreadPoolExecutor(8) as pool:
            assert all(statuses == [201] * 5 for statuses in pool.map(client, range(8)))
        assert registry.notifications.flush(30)
        logged = [e["id"] for e in registry.notifications.events()]
        assert len(logged) == 40
        assert [e["id"] for e in fast.events] == logged
        assert [e["id"] for e in slow.events] == logged
        for number in range(8):
            mine = [e for e in fast.events if e["target"]["repository"] == f"team{number}/app"]
            assert [e["target"].get("tag") for e in mine] == [None, None, None, None, "1.0"]


def _manifest(config: bytes, layers: List[bytes]) -> bytes:
    import json

    def descriptor(media_type: str, data: bytes) -> Dict[str, Any]:
        return {"mediaType": media_type, "digest": sha256(data), "size": len(data)}

    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": descriptor("application/vnd.oci.image.config.v1+json", config),
                       "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", d) for d in layers]}).encode()


def test_a_receiver_that_raises_is_a_failed_delivery_not_a_crash(live_registry) -> None:
    registry, server = live_registry

    def broken(method: str, url: str, headers: Any, body: bytes) -> int:
        raise RuntimeError("receiver bug")

    registry.notifications.receive_locally("http://broken.test/hook", broken)
    endpoint = registry.notifications.add_endpoint("http://broken.test/hook", threshold=1, backoff="1h")
    assert push_blob(server.url, "demo/app", b"x") == 201
    while not endpoint.deliveries():
        threading.Event().wait(0.01)
    assert endpoint.deliveries()[0].error == "RuntimeError: receiver bug"
    assert registry.server_errors == []


def test_removing_the_last_endpoint_uninstalls_the_observer(registry: Registry) -> None:
    before = list(registry.layers)
    registry.notifications.add_endpoint("http://127.0.0.1:9/hook", name="a")
    assert len(registry.layers) == len(before) + 1 and registry.store.on_change is not None
    registry.reset()
    assert registry.store.on_change is not None  # a reset keeps notifying
    registry.notifications.remove_endpoint("a")
    assert registry.layers == before and registry.store.on_change is None
