"""`format: cloudevents`: an endpoint gets the changes zot's events extension reports, as the
CloudEvents Go SDK sends them (binary content mode), and nothing zot does not send."""

from __future__ import annotations

import json

import requests
from events_support import CONFIG, LAYER, MANIFEST, OCI_MANIFEST, sha256

from mockreg import Registry
from mockreg.events.webhook import WebhookReceiver
from mockreg.server import LiveServer

UUID_LENGTH = 36


def test_zot_events_for_pushes_and_deletes_in_binary_mode() -> None:
    registry = Registry()
    with WebhookReceiver() as zot, WebhookReceiver() as distribution, LiveServer(registry) as server:
        zot.subscribe(registry, name="zot", format="cloudevents")
        distribution.subscribe(registry, name="distribution")
        base = server.url
        for data in (CONFIG, LAYER):
            answer = requests.post(f"{base}/v2/demo/app/blobs/uploads/?digest={sha256(data)}", data=data)
            assert answer.status_code == 201
        assert requests.put(f"{base}/v2/demo/app/manifests/1.0", data=MANIFEST,
                            headers={"Content-Type": OCI_MANIFEST, "User-Agent": "oras/1.2"}).status_code == 201
        requests.put(f"{base}/v2/demo/app/manifests/1.1", data=MANIFEST, headers={"Content-Type": OCI_MANIFEST})
        requests.get(f"{base}/v2/demo/app/manifests/1.0")
        requests.get(f"{base}/v2/demo/app/blobs/{sha256(LAYER)}")
        assert requests.delete(f"{base}/v2/demo/app/manifests/1.1").status_code == 202
        assert requests.delete(f"{base}/v2/demo/app/manifests/{sha256(MANIFEST)}").status_code == 202
        assert registry.notifications.flush()

        messages = [received.cloud_event for received in zot.deliveries]
        assert [(m["type"], m["data"].get("reference")) for m in messages] == [
            ("zotregistry.repository.created", None),
            ("zotregistry.image.updated", "1.0"),
            ("zotregistry.image.updated", "1.1"),
            ("zotregistry.image.deleted", "1.1"),
            ("zotregistry.image.deleted", sha256(MANIFEST)),
        ]
        assert messages[0]["data"]["name"] == "demo/app"
        updated = messages[1]
        assert updated["source"] == "zotregistry.dev" and len(updated["id"]) == UUID_LENGTH
        assert set(updated["data"]) == {"name", "reference", "digest", "mediaType", "manifest", "request"}
        assert updated["data"]["manifest"] == MANIFEST.decode() and updated["data"]["mediaType"] == OCI_MANIFEST
        assert updated["data"]["digest"] == sha256(MANIFEST)
        assert updated["data"]["request"]["method"] == "PUT"
        assert updated["data"]["request"]["useragent"] == "oras/1.2"
        first = zot.deliveries[1]
        assert first.headers["ce-specversion"] == "1.0" and first.media_type == "application/json"
        assert first.body == json.dumps(updated["data"], sort_keys=True, separators=(",", ":")).encode()
        # the distribution endpoint of the same registry still gets its own, complete stream
        assert [e["action"] for e in distribution.events] == ["push", "push", "push", "push", "pull", "pull",
                                                               "delete", "delete", "delete"]
        assert zot.events == []  # no distribution envelopes went to the zot endpoint
    registry.notifications.close()


def test_the_cloudevents_format_is_a_reference_key_value(registry: Registry) -> None:
    (endpoint,) = registry.notifications.configure({"endpoints": [
        {"name": "zot", "url": "http://127.0.0.1:9/events", "format": "cloudevents"}]})
    assert endpoint.config.format == "cloudevents"
