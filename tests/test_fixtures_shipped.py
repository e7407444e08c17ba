"""Every scenario shipped in fixtures/ loads and serves what it promises, over HTTP."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest
from werkzeug.test import Client

from mockreg import Registry
from mockreg.reference import referrers_tag
from mockreg.scenario import Scenario

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def served(name: str, **settings: object) -> tuple[Scenario, Client]:
    scenario = Scenario.load(FIXTURES / name)
    registry = Registry(**settings)
    scenario.apply(registry)
    return scenario, Client(registry)


def test_every_shipped_fixture_has_a_test() -> None:
    tested = {"quickstart", "multi-arch", "artifacts-referrers", "no-referrers-api", "extensions-demo",
              "large-layers", "nested-names"}
    shipped = {p.stem for p in FIXTURES.glob("*.yaml")}
    assert shipped - tested <= EDGE_CASE_FIXTURES, f"untested fixtures: {sorted(shipped - tested - EDGE_CASE_FIXTURES)}"


# Fixtures for auth, faults and rate limits are exercised in tests/test_fixtures_edge_cases.py.
EDGE_CASE_FIXTURES = {"bearer-auth", "dockerhub-like", "flaky-blobs", "storage-redirect", "lost-uploads"}


def test_quickstart_images_have_real_tar_layers() -> None:
    _, client = served("quickstart.yaml")
    manifest = client.get("/v2/demo/app/manifests/latest").json
    layer = client.get(f"/v2/demo/app/blobs/{manifest['layers'][0]['digest']}").data
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as archive:
        assert "bin/hello" in archive.getnames()
    assert client.get("/v2/_catalog").json == {"repositories": ["demo/app", "demo/tools"]}
    assert client.get("/v2/demo/app/tags/list").json["tags"] == ["0.9", "1.0", "latest"]


def test_multi_arch_index_lists_each_platform() -> None:
    _, client = served("multi-arch.yaml")
    index = client.get("/v2/demo/multi/manifests/1.0", headers={"Accept": OCI_INDEX})
    assert index.headers["Content-Type"] == OCI_INDEX
    platforms = [(m["platform"]["os"], m["platform"]["architecture"], m["platform"].get("variant"))
                 for m in index.json["manifests"]]
    assert platforms == [("linux", "amd64", None), ("linux", "arm64", "v8"), ("linux", "arm", "v7")]
    for entry in index.json["manifests"]:
        assert client.head(f"/v2/demo/multi/manifests/{entry['digest']}").status_code == 200
    docker = client.get("/v2/demo/multi/manifests/docker")
    assert docker.headers["Content-Type"] == "application/vnd.docker.distribution.manifest.list.v2+json"


def test_artifacts_are_listed_by_the_referrers_api() -> None:
    scenario, client = served("artifacts-referrers.yaml")
    image = scenario.digest("demo/signed@image")
    listed = client.get(f"/v2/demo/signed/referrers/{image}").json["manifests"]
    assert {m["digest"] for m in listed} == {scenario.digest(f"demo/signed@{n}")
                                            for n in ("sbom", "signature", "attestations")}
    sboms = client.get(f"/v2/demo/signed/referrers/{image}?artifactType=application/spdx%2Bjson")
    assert sboms.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["digest"] for m in sboms.json["manifests"]] == [scenario.digest("demo/signed@sbom")]
    chained = client.get(f"/v2/demo/signed/referrers/{scenario.digest('demo/signed@sbom')}").json["manifests"]
    assert [m["digest"] for m in chained] == [scenario.digest("demo/signed@sbom-signature")]


def test_no_referrers_api_keeps_referrers_under_the_fallback_tag() -> None:
    scenario, client = served("no-referrers-api.yaml")
    image = scenario.digest("demo/legacy@image")
    assert client.get(f"/v2/demo/legacy/referrers/{image}").status_code == 404
    fallback = client.get(f"/v2/demo/legacy/manifests/{referrers_tag(image)}")
    assert fallback.status_code == 200 and fallback.headers["Content-Type"] == OCI_INDEX
    listed = {m["digest"]: m["artifactType"] for m in fallback.json["manifests"]}
    assert listed == {scenario.digest("demo/legacy@sbom"): "application/spdx+json",
                      scenario.digest("demo/legacy@signature"): "application/vnd.dev.cosign.artifact.sig.v1+json"}


def test_extensions_demo_serves_both_levels_and_builtins() -> None:
    _, client = served("extensions-demo.yaml")
    names = [e["name"] for e in client.get("/v2/_oci/ext/discover").json["extensions"]]
    assert "_acme" in names and "_oci" in names
    assert client.get("/v2/_acme/stats/summary").json == {"repositories": 2, "vendor": "acme"}
    report = client.get("/v2/demo/app/_acme/scan/report")
    assert report.json == {"vulnerabilities": 3} and report.headers["X-Scanner"] == "acme"
    assert client.get("/v2/demo/other/_acme/scan/report").status_code == 404  # not enabled there
    history = client.get("/v2/demo/other/_chainguard/history/1.0").json["history"]
    assert len(history) == 1
    search = client.get("/v2/_oci/ext/search?repository=demo/*")
    assert search.status_code == 200


def test_large_layers_are_served_by_range() -> None:
    scenario, client = served("large-layers.yaml")
    digest = scenario.digest("demo/large:1.0", "layer", 0)
    head = client.head(f"/v2/demo/large/blobs/{digest}")
    assert head.headers["Content-Length"] == str(128 * 1024 * 1024)
    part = client.get(f"/v2/demo/large/blobs/{digest}", headers={"Range": "bytes=-16"})
    assert part.status_code == 206 and len(part.data) == 16


@pytest.mark.parametrize("name, tag", [("org/team/project/service/app", "1.0"), ("a/blobs/manifests", "manifests"),
                                       ("x/tags/list", "list"), ("foo/blobs/uploads", "uploads"),
                                       ("web.example_name--with__separators", "latest")])
def test_nested_and_route_like_names_resolve(name: str, tag: str) -> None:
    _, client = served("nested-names.yaml")
    manifest = client.get(f"/v2/{name}/manifests/{tag}")
    assert manifest.status_code == 200
    assert client.get(f"/v2/{name}/tags/list").json == {"name": name, "tags": [tag]}
    layer = manifest.json["layers"][0]["digest"]
    assert client.head(f"/v2/{name}/blobs/{layer}").status_code == 200
