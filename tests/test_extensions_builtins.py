"""Built-in extensions, against content pushed over HTTP: `_oci` listed in discover, tag history
modelled on Chainguard's `_chainguard/history`, and search after the `_oci/ext/search` proposal."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Dict, List, Optional
from urllib.parse import quote

import pytest
from werkzeug.test import Client

from mockreg import Registry
from mockreg.clock import Clock

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
SBOM = "application/vnd.example.sbom.v1+json"
JAN_1_2024 = 1704067200.0  # 2024-01-01T00:00:00Z


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def error(response: Any, status: int, code: str) -> Dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.data)
    assert response.headers["Content-Type"] == "application/json"
    first = json.loads(response.data)["errors"][0]
    assert first["code"] == code, first
    return first


class Pusher:
    """Pushes blobs and manifests over HTTP, as a client would."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def blob(self, name: str, data: bytes) -> Dict[str, Any]:
        digest = sha256(data)
        response = self.client.post(f"/v2/{name}/blobs/uploads/?digest={digest}", data=data,
                                    headers={"Content-Type": "application/octet-stream"})
        assert response.status_code == 201, response.data
        return {"digest": digest, "size": len(data)}

    def manifest(self, name: str, document: Dict[str, Any], reference: Optional[str] = None) -> str:
        body = json.dumps(document).encode()
        digest = sha256(body)
        response = self.client.put(f"/v2/{name}/manifests/{reference or digest}", data=body,
                                   headers={"Content-Type": document["mediaType"]})
        assert response.status_code == 201, response.data
        return digest

    def image(self, name: str, layer: bytes, tag: Optional[str] = None, **fields: Any) -> str:
        config = {"mediaType": OCI_CONFIG, **self.blob(name, b'{"architecture":"amd64","os":"linux"}')}
        layers = [{"mediaType": OCI_LAYER, **self.blob(name, layer)}]
        document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers, **fields}
        return self.manifest(name, document, tag)


@pytest.fixture
def registry() -> Registry:
    return Registry(clock=Clock(frozen_at=JAN_1_2024))


@pytest.fixture
def client(registry: Registry) -> Client:
    return Client(registry)


@pytest.fixture
def push(client: Client) -> Pusher:
    return Pusher(client)


def discovered(client: Client, path: str = "/v2/_oci/ext/discover") -> Dict[str, Dict[str, Any]]:
    response = client.get(path)
    assert response.status_code == 200
    return {entry["name"]: entry for entry in json.loads(response.data)["extensions"]}


# -- built-ins are opt-in --------------------------------------------------------------------
def test_builtins_are_off_by_default(client: Client, push: Pusher) -> None:
    push.image("demo/app", b"layer", tag="latest")
    assert discovered(client) == {} and discovered(client, "/v2/demo/app/_oci/ext/discover") == {}
    error(client.get("/v2/demo/app/_chainguard/history/latest"), 404, "EXTENSION_UNKNOWN")
    error(client.get("/v2/_oci/ext/search"), 404, "UNSUPPORTED")


def test_enabling_discover_lists_oci_itself_at_both_levels(registry: Registry, client: Client) -> None:
    registry.extensions.enable("discover")
    oci = discovered(client)["_oci"]
    assert oci["url"] == "https://github.com/opencontainers/distribution-spec/blob/main/extensions/_oci.md"
    assert oci["endpoints"] == ["/v2/_oci/ext/discover"]
    assert discovered(client, "/v2/a/b/_oci/ext/discover")["_oci"]["endpoints"] == ["/v2/a/b/_oci/ext/discover"]


def test_unknown_builtin_and_misplaced_repositories_are_refused(registry: Registry) -> None:
    with pytest.raises(ValueError, match="built-ins: discover, search, history"):
        registry.extensions.enable("catalog")
    with pytest.raises(ValueError, match="every repository"):
        registry.extensions.enable("search", repositories=["demo"])


# -- tag history ---------------------------------------------------------------------------
def history(client: Client, path: str, **query: str) -> List[Dict[str, str]]:
    response = client.get(path, query_string=query)
    assert response.status_code == 200, response.data
    assert response.headers["Content-Type"] == "application/json"
    body = json.loads(response.data)
    assert list(body) == ["history"]
    return body["history"]


def test_history_lists_every_tag_move_oldest_first_with_clock_times(registry: Registry, client: Client,
                                                                    push: Pusher) -> None:
    registry.extensions.enable("history")
    first = push.image("demo/app", b"one", tag="latest")
    registry.clock.advance(90.25)
    second = push.image("demo/app", b"two", tag="latest")
    registry.clock.advance(3600)
    push.image("demo/app", b"two", tag="latest")  # the same digest again is no move
    push.image("demo/app", b"one", tag="latest")
    assert history(client, "/v2/demo/app/_chainguard/history/latest") == [
        {"updateTimestamp": "2024-01-01T00:00:00.000Z", "digest": first},
        {"updateTimestamp": "2024-01-01T00:01:30.250Z", "digest": second},
        {"updateTimestamp": "2024-01-01T01:01:30.250Z", "digest": first},
    ]


def test_history_skips_deletions_and_shows_a_later_retag(registry: Registry, client: Client, push: Pusher) -> None:
    registry.extensions.enable("history")
    digest = push.image("demo/app", b"one", tag="v1")
    registry.clock.advance(1)
    assert client.delete("/v2/demo/app/manifests/v1").status_code == 202
    assert history(client, "/v2/demo/app/_chainguard/history/v1") == [
        {"updateTimestamp": "2024-01-01T00:00:00.000Z", "digest": digest}]
    registry.clock.advance(1)
    push.image("demo/app", b"one", tag="v1")
    assert [r["updateTimestamp"] for r in history(client, "/v2/demo/app/_chainguard/history/v1")] == [
        "2024-01-01T00:00:00.000Z", "2024-01-01T00:00:02.000Z"]


def test_history_start_and_end_bound_the_records_inclusively(registry: Registry, client: Client,
                                                             push: Pusher) -> None:
    registry.extensions.enable("history")
    digests = []
    for day in range(4):
        digests.append(push.image("demo/app", f"day {day}".encode(), tag="nightly"))
        registry.clock.advance(86400)
    path = "/v2/demo/app/_chainguard/history/nightly"
    assert [r["digest"] for r in history(client, path, start="2024-01-02T00:00:00.000Z")] == digests[1:]
    assert [r["digest"] for r in history(client, path, end="2024-01-02T00:00:00Z")] == digests[:2]
    assert [r["digest"] for r in history(client, path, start="2024-01-02", end="2024-01-03T00:00:00+00:00")] == \
        digests[1:3]
    assert [r["digest"] for r in history(client, path, start="2024-01-02T01:00:00+01:00")] == digests[1:]
    assert history(client, path, start="2025-01-01T00:00:00Z") == []


def test_history_answers_at_most_1000_records_oldest_first(registry: Registry, client: Client) -> None:
    registry.extensions.enable("history")
    registry.configure(tag_history_limit=2000)  # more kept than one answer shows
    config = registry.push_blob("demo/app", b"{}")
    manifests = [registry.push_manifest("demo/app", {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                                     "config": {"mediaType": OCI_CONFIG, "digest": config, "size": 2},
                                                     "layers": [], "annotations": {"n": str(i)}})
                 for i in range(2)]
    for move in range(1003):
        registry.clock.advance(1)
        registry.push_manifest("demo/app", registry.manifest("demo/app", manifests[move % 2]).body, tags="flip")
    records = history(client, "/v2/demo/app/_chainguard/history/flip")
    assert len(records) == 1000
    assert records[0] == {"updateTimestamp": "2024-01-01T00:00:01.000Z", "digest": manifests[0]}
    assert records[-1]["updateTimestamp"] == "2024-01-01T00:16:40.000Z"


def test_history_keeps_the_latest_moves_within_tag_history_limit(registry: Registry, client: Client) -> None:
    registry.extensions.enable("history")
    registry.configure(tag_history_limit=10)
    config = registry.push_blob("demo/app", b"{}")
    manifests = [registry.push_manifest("demo/app", {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                                     "config": {"mediaType": OCI_CONFIG, "digest": config, "size": 2},
                                                     "layers": [], "annotations": {"n": str(i)}})
                 for i in range(2)]
    for move in range(25):
        registry.clock.advance(1)
        registry.push_manifest("demo/app", registry.manifest("demo/app", manifests[move % 2]).body, tags="flip")
    records = history(client, "/v2/demo/app/_chainguard/history/flip")
    assert len(records) == 10
    assert records[0] == {"updateTimestamp": "2024-01-01T00:00:16.000Z", "digest": manifests[1]}
    assert records[-1] == {"updateTimestamp": "2024-01-01T00:00:25.000Z", "digest": manifests[0]}
    assert registry.store.repositories["demo/app"].tag_history.dropped == 15


def test_history_errors(registry: Registry, client: Client, push: Pusher) -> None:
    registry.extensions.enable("history")
    push.image("demo/app", b"one", tag="latest")
    error(client.get("/v2/demo/app/_chainguard/history/never"), 404, "MANIFEST_UNKNOWN")
    error(client.get("/v2/nothing/_chainguard/history/latest"), 404, "NAME_UNKNOWN")
    error(client.get("/v2/demo/app/_chainguard/history/latest?start=yesterday"), 400, "UNSUPPORTED")
    error(client.get("/v2/demo/app/_chainguard/history/latest", headers={"Accept": "text/html"}), 406, "UNSUPPORTED")
    error(client.post("/v2/demo/app/_chainguard/history/latest"), 405, "UNSUPPORTED")


def test_history_is_discovered_per_repository_as_enabled(registry: Registry, client: Client, push: Pusher) -> None:
    registry.extensions.enable("history", repositories=["demo/*"])
    push.image("demo/app", b"one", tag="latest")
    push.image("other/app", b"one", tag="latest")
    entry = discovered(client, "/v2/demo/app/_oci/ext/discover")["_chainguard"]
    assert entry["endpoints"] == ["/v2/demo/app/_chainguard/history/{tag}"]
    assert entry["url"].startswith("https://edu.chainguard.dev/")
    assert "_chainguard" not in discovered(client)  # repository level only
    assert "_chainguard" not in discovered(client, "/v2/other/app/_oci/ext/discover")
    error(client.get("/v2/other/app/_chainguard/history/latest"), 404, "EXTENSION_UNKNOWN")
    assert len(history(client, "/v2/demo/app/_chainguard/history/latest")) == 1


# -- search --------------------------------------------------------------------------------
@pytest.fixture
def content(registry: Registry, push: Pusher) -> Dict[str, str]:
    """Three repositories: two images and an index, and an untagged SBOM referring to an image."""
    registry.extensions.enable("search")
    made = {
        "app": push.image("demo/app", b"app layer", tag="1.0",
                          annotations={"org.opencontainers.image.title": "app"}),
        "tools": push.image("demo/tools", b"shared layer", tag="latest"),
        "other": push.image("other/app", b"shared layer", tag="v1.1"),
    }
    push.image("demo/app", b"app layer", tag="1.1", annotations={"org.opencontainers.image.title": "app"})
    made["index"] = push.manifest("demo/app", {
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": made["app"],
                       "size": len(registry.manifest("demo/app", made["app"]).body)}]}, "multi")
    sbom_blob = push.blob("other/app", b'{"packages":[]}')
    made["sbom"] = push.manifest("other/app", {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": SBOM,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", **push.blob("other/app", b"{}")},
        "layers": [{"mediaType": SBOM, **sbom_blob}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": made["other"],
                    "size": len(registry.manifest("other/app", made["other"]).body)}})
    return made


def search(client: Client, query: str = "") -> Any:
    response = client.get(f"/v2/_oci/ext/search{query}")
    assert response.status_code == 200, response.data
    assert response.headers["Content-Type"] == "application/json"
    return json.loads(response.data)


def found(client: Client, query: str) -> List[tuple]:
    return [(image["repository"], image["digest"]) for image in search(client, query)["images"]]


def test_search_is_listed_under_oci(registry: Registry, client: Client) -> None:
    registry.extensions.enable("search")
    assert discovered(client)["_oci"]["endpoints"] == ["/v2/_oci/ext/discover", "/v2/_oci/ext/search"]
    assert discovered(client, "/v2/demo/_oci/ext/discover")["_oci"]["endpoints"] == ["/v2/demo/_oci/ext/discover"]


def test_search_repositories(client: Client, content: Dict[str, str]) -> None:
    assert search(client) == {"repositories": ["demo/app", "demo/tools", "other/app"]}
    assert search(client, "?repository=demo/*") == {"repositories": ["demo/app", "demo/tools"]}
    assert search(client, "?repository=other/app") == {"repositories": ["other/app"]}
    assert search(client, "?repository=demo") == {"repositories": []}
    assert search(client, "?repository=demo/tools&repository=other/*") == {"repositories": ["demo/tools", "other/app"]}


def test_search_images_describes_each_manifest(registry: Registry, client: Client, content: Dict[str, str]) -> None:
    images = {(i["repository"], i["digest"]): i for i in search(client, "?image=")["images"]}
    assert len(images) == 5
    app = images[("demo/app", content["app"])]
    assert app == {"repository": "demo/app", "digest": content["app"], "mediaType": OCI_MANIFEST,
                   "size": len(registry.manifest("demo/app", content["app"]).body), "artifactType": OCI_CONFIG,
                   "annotations": {"org.opencontainers.image.title": "app"}, "tags": ["1.0", "1.1"]}
    assert images[("other/app", content["sbom"])]["tags"] == []
    assert images[("other/app", content["sbom"])]["artifactType"] == SBOM
    assert "artifactType" not in images[("demo/app", content["index"])]


def test_search_image_filters(client: Client, content: Dict[str, str]) -> None:
    c = content
    assert found(client, "?image=1.*") == [("demo/app", c["app"])]
    assert found(client, "?image=*1.1") == sorted([("demo/app", c["app"]), ("other/app", c["other"])])
    assert found(client, "?image=1") == []
    assert found(client, "?repository=demo/*&image=latest") == [("demo/tools", c["tools"])]
    assert found(client, f"?mediaType={quote(OCI_INDEX)}") == [("demo/app", c["index"])]
    assert found(client, f"?artifactType={quote(SBOM)}") == [("other/app", c["sbom"])]
    assert len(found(client, f"?artifactType={quote(OCI_CONFIG)}")) == 3
    assert found(client, "?annotation=org.opencontainers.image.title") == [("demo/app", c["app"])]
    assert found(client, "?annotation=org.opencontainers.image.title=app") == [("demo/app", c["app"])]
    assert found(client, "?annotation=org.opencontainers.image.title=other") == []
    shared = sha256(b"shared layer")
    assert found(client, f"?digest={shared}") == sorted([("demo/tools", c["tools"]), ("other/app", c["other"])])
    assert found(client, f"?digest={c['app']}") == sorted([("demo/app", c["app"]), ("demo/app", c["index"])])
    either = f"?mediaType={quote(OCI_INDEX)}&mediaType={quote(OCI_MANIFEST)}"
    assert found(client, either + "&repository=demo/app") == sorted([("demo/app", c["app"]), ("demo/app", c["index"])])
    assert found(client, f"?artifactType={quote(SBOM)}&repository=demo/*") == []


def test_search_pages_the_spec_way(client: Client, content: Dict[str, str]) -> None:
    everything = found(client, "?image=")
    path = f"/v2/_oci/ext/search?artifactType={quote(OCI_CONFIG)}&artifactType={quote(SBOM)}&n=2"
    collected: List[tuple] = []
    pages = 0
    while path:
        response = client.get(path)
        assert response.status_code == 200
        page = json.loads(response.data)["images"]
        assert len(page) <= 2
        collected += [(i["repository"], i["digest"]) for i in page]
        link = response.headers.get("Link")
        path = re.fullmatch(r'<([^>]+)>; rel="next"', link).group(1) if link else ""
        if path:
            assert "artifactType=" in path and "n=2" in path  # the filters carry over
        pages += 1
    assert pages == 2 and collected == [item for item in everything if item[1] != content["index"]]
    assert search(client, "?n=2")["repositories"] == ["demo/app", "demo/tools"]
    assert search(client, "?n=2&last=demo/tools")["repositories"] == ["other/app"]
    assert search(client, "?n=0") == {"repositories": []}


def test_search_refuses_what_it_does_not_support(client: Client, content: Dict[str, str]) -> None:
    detail = error(client.get("/v2/_oci/ext/search?global=app"), 400, "UNSUPPORTED")["detail"]
    assert detail["unsupported"] == ["global"]
    error(client.get("/v2/_oci/ext/search?n=lots"), 400, "UNSUPPORTED")
    error(client.get("/v2/_oci/ext/search", headers={"Accept": "text/html"}), 406, "UNSUPPORTED")
    error(client.get("/v2/demo/app/_oci/ext/search"), 404, "UNSUPPORTED")  # registry level only
