"""The `mockreg_webhook` fixture with each way of reaching a registry: the live server, in
process, and over a socket for a registry it is not subscribed to."""

from __future__ import annotations

pytest_plugins = ["pytester"]

MODULE = '''
import hashlib
import threading
import requests
from mockreg import Registry

DATA = b"fixture"
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()

def test_live_server(mockreg_server, mockreg_webhook):
    requests.post(f"{mockreg_server.url}/v2/demo/app/blobs/uploads/?digest={DIGEST}", data=DATA)
    requests.get(f"{mockreg_server.url}/v2/demo/app/blobs/{DIGEST}")
    mockreg_webhook.assert_events([f"push demo/app@{DIGEST}", f"pull demo/app@{DIGEST}"])
    assert mockreg_webhook.events[0]["target"]["url"].startswith(mockreg_server.url)

def test_over_a_socket_for_another_registry(mockreg_webhook):
    registry = Registry()
    registry.notifications.add_endpoint(mockreg_webhook.url)
    registry.notifications.python_api = True
    registry.push_blob("other/app", DATA)
    event = mockreg_webhook.assert_event("push", "other/app", from_python=True)
    assert mockreg_webhook.url.startswith("http://127.0.0.1:")
    registry.notifications.close()

def test_each_test_starts_with_no_events(mockreg, mockreg_webhook):
    assert mockreg_webhook.events == []
    assert [e.name for e in mockreg.notifications.endpoints] == ["mockreg_webhook"]

def test_a_dead_endpoint_keeps_a_thread_only_while_its_test_runs(mockreg):
    mockreg.notifications.add_endpoint("http://127.0.0.1:9/nobody", threshold=1, backoff="1h")
    mockreg.notifications.python_api = True
    mockreg.push_blob("demo/app", DATA)
    while not mockreg.notifications.endpoints[0].deliveries():
        threading.Event().wait(0.01)
    assert any(t.name.startswith("mockreg-notify-") for t in threading.enumerate())

def test_no_delivery_thread_outlives_its_test():
    threading.Event().wait(0.2)
    assert not any(t.name.startswith("mockreg-notify-") for t in threading.enumerate())

def test_a_failure_lists_what_arrived(mockreg_requests, mockreg_webhook):
    requests.post(f"{mockreg_requests.url}/v2/demo/app/blobs/uploads/?digest={DIGEST}", data=DATA)
    mockreg_webhook.assert_event("delete", "demo/app", timeout=0.2)
'''


def test_the_fixture_reaches_every_kind_of_registry(run, pytester) -> None:
    pytester.makepyfile(test_webhook_fixture=MODULE)
    result = run("-p", "no:cacheprovider", "-p", "no:xdist")
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: no delete demo/app event within 0.2s; received 1 event(s):*",
                                 "*push demo/app@sha256:* (application/octet-stream)*"])
