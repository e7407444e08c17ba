"""The envelope, field by field, against the reference registry: its documented examples
(distribution docs/content/about/notifications.md), its Go types (notifications/event.go,
bridge.go, http.go), and, where `docker-registry` (distribution 2.8) is installed, the very
events it sends for the same requests."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import requests
from cli_helpers import required_tool
from events_support import (
    CONFIG,
    EXPECTED_STATUSES,
    LAYER,
    MANIFEST,
    OCI_MANIFEST,
    free_port,
    normalized,
    run_script,
    sha256,
)

from mockreg import Registry
from mockreg.events.webhook import WebhookReceiver
from mockreg.server import LiveServer

# docs/content/about/notifications.md, "Events": the example sent for the pull of a manifest.
DOCUMENTED_PULL = json.loads("""{
  "events": [
    {
      "id": "320678d8-ca14-430f-8bb6-4ca139cd83f7",
      "timestamp": "2016-03-09T14:44:26.402973972-08:00",
      "action": "pull",
      "target": {
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "digest": "sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf",
        "size": 708,
        "length": 708,
        "repository": "hello-world",
        "url": "http://192.168.100.227:5000/v2/hello-world/manifests/sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf",
        "tag": "latest"
      },
      "request": {
        "id": "6df24a34-0959-4923-81ca-14f09767db19",
        "addr": "192.168.64.11:42961",
        "host": "192.168.100.227:5000",
        "method": "GET",
        "useragent": "curl/7.38.0"
      },
      "actor": {},
      "source": {
        "addr": "xtal.local:5000",
        "instanceID": "a53db899-3b4b-4a62-a067-8dd013beaca4"
      }
    }
  ]
}""")
# The same page: "the target struct of events which are sent when manifests and blobs are deleted".
DOCUMENTED_DELETE_TARGET = {"digest": "sha256:d89e1bee20d9cb344674e213b581f14fbd8e70274ecf9d10c514bab78a307845",
                            "repository": "library/test"}
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
GO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


@pytest.fixture
def served() -> Iterator[Any]:
    registry = Registry()
    receiver = WebhookReceiver()
    receiver.subscribe(registry)
    with LiveServer(registry) as server:
        yield registry, receiver, server
    receiver.close()


def docker_image() -> Dict[str, bytes]:
    manifest = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                           "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                      "digest": sha256(CONFIG), "size": len(CONFIG)},
                           "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                                       "digest": sha256(LAYER), "size": len(LAYER)}]}).encode()
    return {"manifest": manifest}


def test_a_manifest_pull_matches_the_documented_example_field_by_field(served) -> None:
    registry, receiver, server = served
    registry.push_blob("hello-world", CONFIG)
    registry.push_blob("hello-world", LAYER)
    manifest = docker_image()["manifest"]
    registry.push_manifest("hello-world", manifest, tags=["latest"])
    answer = requests.get(f"{server.url}/v2/hello-world/manifests/latest", headers={"Accept": DOCKER_MANIFEST,
                                                                                  "User-Agent": "curl/7.38.0"})
    assert answer.status_code == 200
    ours = receiver.assert_event("pull", "hello-world:latest")
    documented = DOCUMENTED_PULL["events"][0]
    assert list(ours) == list(documented)  # id, timestamp, action, target, request, actor, source
    assert list(ours["target"]) == ["mediaType", "size", "digest", "length", "repository", "url", "tag"]
    assert set(ours["target"]) == set(documented["target"])  # 2.8 writes size before digest (checked below)
    for part in ("request", "actor", "source"):
        assert list(ours[part]) == list(documented[part]), part
    assert UUID.match(ours["id"]) and UUID.match(ours["request"]["id"]) and UUID.match(ours["source"]["instanceID"])
    assert GO_TIME.match(ours["timestamp"])
    target = ours["target"]
    assert target["mediaType"] == DOCKER_MANIFEST
    assert target["digest"] == sha256(manifest) and target["size"] == target["length"] == len(manifest)
    assert target["repository"] == "hello-world" and target["tag"] == "latest"
    assert target["url"] == f"{server.url}/v2/hello-world/manifests/{sha256(manifest)}"
    request = ours["request"]
    assert request["host"] == server.host_port and request["method"] == "GET"
    assert request["useragent"] == "curl/7.38.0"
    assert re.match(r"^127\.0\.0\.1:\d+$", request["addr"])
    assert ours["actor"] == {}
    assert ours["source"]["addr"].endswith(f":{server.port}")


def test_deletes_carry_only_digest_and_repository_as_documented(served) -> None:
    registry, receiver, server = served
    registry.push_blob("library/test", LAYER)
    assert requests.delete(f"{server.url}/v2/library/test/blobs/{sha256(LAYER)}").status_code == 202
    deleted = receiver.assert_event("delete", "library/test")
    assert list(deleted["target"]) == list(DOCUMENTED_DELETE_TARGET)
    assert deleted["target"]["digest"] == sha256(LAYER)


def test_the_post_carries_one_event_in_the_reference_media_type_indented_as_go_does(served) -> None:
    registry, receiver, server = served
    requests.post(f"{server.url}/v2/demo/app/blobs/uploads/?digest={sha256(LAYER)}", data=LAYER)
    receiver.assert_event("push", f"demo/app@{sha256(LAYER)}")
    delivered = receiver.deliveries[0]
    # registry 2.x (notifications/event.go EventsMediaType); v3.0 moved to events.v2+json
    assert delivered.media_type == "application/vnd.docker.distribution.events.v1+json"
    assert len(delivered.envelope["events"]) == 1  # http.go: one event per POST
    assert delivered.body.startswith(b'{\n   "events": [\n      {\n         "id": ')  # MarshalIndent "   "


def test_blob_events_say_octet_stream_as_the_reference_blob_store_does(served) -> None:
    registry, receiver, server = served
    requests.post(f"{server.url}/v2/demo/app/blobs/uploads/?digest={sha256(LAYER)}", data=LAYER)
    event = receiver.assert_event("push", "demo/app")
    assert event["target"] == {"mediaType": "application/octet-stream", "size": len(LAYER), "digest": sha256(LAYER),
                               "length": len(LAYER), "repository": "demo/app",
                               "url": f"{server.url}/v2/demo/app/blobs/{sha256(LAYER)}"}


def test_the_whole_script_notifies_what_registry_2_8_notified(served) -> None:
    """The events registry 2.8.2 sent for this script (docker-registry on Debian, captured by
    test_mockreg_and_registry_2_8_notify_the_same_events), written out so the check runs anywhere."""
    registry, receiver, server = served
    assert run_script(server.url) == EXPECTED_STATUSES
    registry.notifications.flush()
    got = [normalized(e, server.url) for e in receiver.events]
    assert [(e["action"], e["method"]) for e in got] == [
        ("push", "PUT"), ("push", "PUT"), ("push", "PUT"), ("pull", "GET"), ("pull", "HEAD"), ("pull", "GET"),
        ("pull", "HEAD"), ("pull", "GET"), ("mount", "POST"), ("delete", "DELETE"), ("delete", "DELETE"),
        ("delete", "DELETE")]
    blob_keys = ["mediaType", "size", "digest", "length", "repository", "url"]
    assert [e["target keys"] for e in got] == [
        blob_keys, blob_keys, blob_keys + ["tag"], blob_keys + ["tag"], blob_keys, blob_keys, blob_keys, blob_keys,
        ["mediaType", "size", "digest", "length", "repository", "fromRepository", "url"],
        ["digest", "repository"], ["digest", "repository"], ["repository", "tag"]]
    assert got[8]["target"]["fromRepository"] == "demo/app"
    assert got[-1]["target"] == {"repository": "demo/app", "tag": "1.0"}
    assert got[7]["target"]["size"] == len(LAYER)  # a range pull reports the whole blob


def test_mockreg_and_registry_2_8_notify_the_same_events(tmp_path: Path) -> None:
    """Run the script against the reference registry itself and against mockreg: the same
    actions, methods and targets, in the same order (ids, times and addresses aside)."""
    binary = required_tool("docker-registry")  # distribution 2.8; .ci/run installs it
    with WebhookReceiver() as reference_hook:
        port = free_port()
        config = tmp_path / "config.yml"
        config.write_text(f"""version: 0.1
log: {{level: error}}
storage: {{inmemory: {{}}, delete: {{enabled: true}}}}
http: {{addr: 127.0.0.1:{port}}}
notifications:
  endpoints:
    - {{name: hook, url: "{reference_hook.url}", timeout: 1s, threshold: 3, backoff: 1s}}
""")
        process = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_for(base)
            assert run_script(base) == EXPECTED_STATUSES
            reference = reference_hook.wait(12, timeout=10)
        finally:
            process.terminate()
            process.wait(10)
    registry = Registry()
    with WebhookReceiver() as ours, LiveServer(registry) as server:
        ours.subscribe(registry)
        assert run_script(server.url) == EXPECTED_STATUSES
        mine = ours.wait(12)
        assert len(reference) == len(mine) == 12, ours.describe()
        assert [normalized(e, server.url) for e in mine] == [normalized(e, base) for e in reference]
        assert [list(e) for e in mine] == [list(e) for e in reference]
        assert [list(e["request"]) for e in mine] == [list(e["request"]) for e in reference]
        assert [list(e["source"]) for e in mine] == [list(e["source"]) for e in reference]
        media_types = {received.media_type for received in ours.deliveries}
        assert media_types == {received.media_type for received in reference_hook.deliveries}


def _wait_for(base: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            if requests.get(f"{base}/v2/", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"docker-registry did not start on {base}")
        time.sleep(0.05)


def test_a_manifest_put_by_digest_has_no_tag_and_extra_tags_notify_each(served) -> None:
    registry, receiver, server = served
    registry.push_blob("demo/app", CONFIG)
    registry.push_blob("demo/app", LAYER)
    digest = sha256(MANIFEST)
    answer = requests.put(f"{server.url}/v2/demo/app/manifests/{digest}?tag=a&tag=b", data=MANIFEST,
                          headers={"Content-Type": OCI_MANIFEST})
    assert answer.status_code == 201
    receiver.assert_count(2, "push", f"demo/app@{digest}")
    assert {e["target"]["tag"] for e in receiver.events} == {"a", "b"}
    requests.put(f"{server.url}/v2/demo/app/manifests/{digest}", data=MANIFEST, headers={"Content-Type": OCI_MANIFEST})
    untagged = receiver.wait(3, "push")[-1]
    assert "tag" not in untagged["target"]


def test_include_references_lists_the_manifests_descriptors(served) -> None:
    registry, receiver, server = served
    registry.notifications.include_references = True
    registry.push_blob("demo/app", CONFIG)
    registry.push_blob("demo/app", LAYER)
    requests.put(f"{server.url}/v2/demo/app/manifests/1.0", data=MANIFEST, headers={"Content-Type": OCI_MANIFEST})
    pushed = receiver.assert_event("push", "demo/app:1.0")
    document = json.loads(MANIFEST)
    assert pushed["target"]["references"] == [document["config"], *document["layers"]]


def test_the_actor_is_the_authenticated_user(served) -> None:
    registry, receiver, server = served
    registry.enable_auth(scheme="basic", users=[{"name": "alice", "password": "pw", "access": {"demo/*": "*"}}])
    answer = requests.post(f"{server.url}/v2/demo/app/blobs/uploads/?digest={sha256(LAYER)}", data=LAYER,
                           auth=("alice", "pw"))
    assert answer.status_code == 201
    assert receiver.assert_event("push", "demo/app")["actor"] == {"name": "alice"}


def test_failed_and_not_modified_requests_notify_nothing(served) -> None:
    registry, receiver, server = served
    registry.push_blob("demo/app", CONFIG)
    registry.push_blob("demo/app", LAYER)
    registry.push_manifest("demo/app", MANIFEST, tags=["1.0"])
    assert requests.get(f"{server.url}/v2/demo/app/manifests/2.0").status_code == 404
    assert requests.get(f"{server.url}/v2/demo/app/manifests/1.0",
                        headers={"If-None-Match": f'"{sha256(MANIFEST)}"'}).status_code == 304
    assert requests.put(f"{server.url}/v2/demo/app/manifests/bad", data=b"{}",
                        headers={"Content-Type": OCI_MANIFEST}).status_code == 400
    assert requests.delete(f"{server.url}/v2/demo/app/blobs/{sha256(b'x')}").status_code == 404
    receiver.assert_count(0)


def test_python_api_changes_are_silent_unless_asked_and_then_marked(served) -> None:
    registry, receiver, server = served
    registry.push_blob("demo/app", LAYER)
    registry.notifications.flush()
    receiver.assert_no_event()
    registry.notifications.python_api = True
    registry.push_blob("demo/app", CONFIG)
    registry.delete_blob("demo/app", sha256(CONFIG))
    registry.push_blob("demo/app", CONFIG)
    registry.push_manifest("demo/app", MANIFEST, tags=["1.0"])
    registry.delete_tag("demo/app", "1.0")
    events: List[Dict[str, Any]] = receiver.wait(5)
    assert [(e["action"], e["target"].get("tag")) for e in events] == [
        ("push", None), ("delete", None), ("push", None), ("push", "1.0"), ("delete", "1.0")]
    assert all(e["request"]["method"] == "PYTHON" for e in events)
    assert "url" not in events[0]["target"]  # no request, so no host to build it from
    receiver.assert_count(5, from_python=True)
