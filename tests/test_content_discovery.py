"""Spec section "Content Discovery": end-1 (/v2/), end-8a/8b (tags list), end-12a/12b (referrers)
and the Docker-era `_catalog`."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from registry_helpers import OCI_INDEX, OCI_MANIFEST, assert_error, image, index, push, sha256

SBOM = "application/vnd.example.sbom.v1"
SIGNATURE = "application/vnd.example.signature.v1"


def next_link(response) -> str:
    """The target of a `Link: <...>; rel="next"` header (RFC 5988)."""
    value = response.headers["Link"]
    target, _, params = value.partition(";")
    assert params.strip() == 'rel="next"'
    assert target.startswith("<") and target.endswith(">")
    return target[1:-1]


# -- /v2/ (end-1) ----------------------------------------------------------------------------

def test_base_answers_200_with_api_version_header(client):
    response = client.get("/v2/")
    assert response.status_code == 200
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert json.loads(response.data) == {}


def test_base_answers_head_and_the_path_without_slash(client):
    assert client.head("/v2/").status_code == 200
    assert client.get("/v2").status_code == 200


def test_every_response_carries_the_api_version_header(client):
    assert client.get("/v2/no/repo/tags/list").headers["Docker-Distribution-API-Version"] == "registry/2.0"


# -- tags (end-8a, end-8b) -------------------------------------------------------------------

TAGS = ["1.0", "Latest", "_x", "a", "b-1", "b.1", "latest", "v2"]  # ASCIIbetical order


@pytest.fixture
def tagged(registry):
    push(registry, "demo/app", image(), tags=list(reversed(TAGS)))


def test_tags_list_is_200_with_name_and_tags_in_asciibetical_order(client, tagged):
    response = client.get("/v2/demo/app/tags/list")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.data) == {"name": "demo/app", "tags": TAGS}
    assert "Link" not in response.headers


def test_tags_list_with_n_returns_n_tags_and_a_next_link(client, tagged):
    response = client.get("/v2/demo/app/tags/list?n=3")
    assert json.loads(response.data)["tags"] == TAGS[:3]
    link = next_link(response)
    assert urlsplit(link).path == "/v2/demo/app/tags/list"
    assert parse_qs(urlsplit(link).query) == {"n": ["3"], "last": [TAGS[2]]}


def test_tags_list_link_walks_every_tag_once(client, tagged):
    url, seen = "/v2/demo/app/tags/list?n=3", []
    while url:
        response = client.get(url)
        seen += json.loads(response.data)["tags"]
        url = next_link(response) if "Link" in response.headers else None
    assert seen == TAGS


def test_tags_list_with_n_zero_is_empty_and_has_no_link(client, tagged):
    response = client.get("/v2/demo/app/tags/list?n=0")
    assert response.status_code == 200
    assert json.loads(response.data)["tags"] == []
    assert "Link" not in response.headers


def test_tags_list_with_n_at_least_the_count_has_no_link(client, tagged):
    response = client.get(f"/v2/demo/app/tags/list?n={len(TAGS)}")
    assert json.loads(response.data)["tags"] == TAGS
    assert "Link" not in response.headers


def test_tags_list_with_last_starts_after_that_tag(client, tagged):
    assert json.loads(client.get("/v2/demo/app/tags/list?last=b-1").data)["tags"] == TAGS[5:]


def test_tags_list_with_n_and_last(client, tagged):
    response = client.get("/v2/demo/app/tags/list?n=2&last=_x")
    assert json.loads(response.data)["tags"] == ["a", "b-1"]
    assert parse_qs(urlsplit(next_link(response)).query)["last"] == ["b-1"]


def test_tags_list_of_repository_without_tags_is_empty(client, registry):
    registry.push_blob("demo/app", b"only a blob")
    assert json.loads(client.get("/v2/demo/app/tags/list").data) == {"name": "demo/app", "tags": []}


def test_tags_list_of_unknown_repository_is_404_name_unknown(client):
    assert_error(client.get("/v2/no/such/tags/list"), 404, "NAME_UNKNOWN")


@pytest.mark.parametrize("n", ["-1", "many", "1.5"])
def test_tags_list_with_n_that_is_not_a_count_is_400(client, tagged, n):
    assert_error(client.get(f"/v2/demo/app/tags/list?n={n}"), 400, "UNSUPPORTED")


# -- catalog -----------------------------------------------------------------------------------

REPOSITORIES = ["a", "a/b", "b", "library/ubuntu", "z-9"]


@pytest.fixture
def repositories(registry):
    for name in reversed(REPOSITORIES):
        registry.push_blob(name, name.encode())


def test_catalog_lists_repositories_sorted(client, repositories):
    response = client.get("/v2/_catalog")
    assert response.status_code == 200
    assert json.loads(response.data) == {"repositories": REPOSITORIES}


def test_catalog_is_paginated_with_n_last_and_link(client, repositories):
    url, pages = "/v2/_catalog?n=2", []
    while url:
        response = client.get(url)
        pages.append(json.loads(response.data)["repositories"])
        url = next_link(response) if "Link" in response.headers else None
    assert pages == [["a", "a/b"], ["b", "library/ubuntu"], ["z-9"]]


def test_catalog_last_is_exclusive(client, repositories):
    assert json.loads(client.get("/v2/_catalog?last=b").data)["repositories"] == ["library/ubuntu", "z-9"]


def test_catalog_with_n_zero_is_empty_without_link(client, repositories):
    response = client.get("/v2/_catalog?n=0")
    assert json.loads(response.data)["repositories"] == []
    assert "Link" not in response.headers


def test_catalog_of_empty_registry_is_empty(client):
    assert json.loads(client.get("/v2/_catalog").data) == {"repositories": []}


# -- referrers (end-12a, end-12b) --------------------------------------------------------------

@pytest.fixture
def subject(registry):
    content = image("subject")
    push(registry, "demo/app", content, tags=["v1"])
    return content


def referrer(registry, subject, seed, **kwargs):
    content = image(seed, subject=subject.descriptor(), **kwargs)
    push(registry, "demo/app", content)
    return content


def listing(client, subject, query=""):
    response = client.get(f"/v2/demo/app/referrers/{subject.digest}{query}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == OCI_INDEX
    document = json.loads(response.data)
    assert (document["schemaVersion"], document["mediaType"]) == (2, OCI_INDEX)
    return response, document["manifests"]


def test_referrers_of_digest_without_referrers_is_an_empty_index(client, subject):
    response, manifests = listing(client, subject)
    assert manifests == []
    assert "OCI-Filters-Applied" not in response.headers


def test_referrers_of_unknown_digest_in_unknown_repository_is_an_empty_index(client):
    response = client.get(f"/v2/no/repo/referrers/{sha256(b'x')}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == OCI_INDEX
    assert json.loads(response.data)["manifests"] == []


def test_referrers_list_descriptors_with_artifact_type_and_annotations(client, registry, subject):
    sbom = referrer(registry, subject, "sbom", artifact_type=SBOM, annotations={"org.example.format": "json"})
    _, manifests = listing(client, subject)
    assert manifests == [{"mediaType": OCI_MANIFEST, "digest": sbom.digest, "size": len(sbom.body),
                          "artifactType": SBOM, "annotations": {"org.example.format": "json"}}]


def test_referrer_without_artifact_type_is_listed_with_its_config_media_type(client, registry, subject):
    referrer(registry, subject, "sig", config_type=SIGNATURE)
    _, manifests = listing(client, subject)
    assert manifests[0]["artifactType"] == SIGNATURE
    assert "annotations" not in manifests[0]


def test_index_referrer_without_artifact_type_omits_it(client, registry, subject):
    child = image("child")
    push(registry, "demo/app", child)
    content = index([child], subject=subject.descriptor(), annotations={"k": "v"})
    push(registry, "demo/app", content)
    _, manifests = listing(client, subject)
    assert manifests == [{"mediaType": OCI_INDEX, "digest": content.digest, "size": len(content.body),
                          "annotations": {"k": "v"}}]


def test_index_referrer_with_artifact_type_lists_it(client, registry, subject):
    child = image("child")
    push(registry, "demo/app", child)
    push(registry, "demo/app", index([child], subject=subject.descriptor(), artifact_type=SBOM))
    _, manifests = listing(client, subject)
    assert manifests[0]["artifactType"] == SBOM


def test_referrers_filter_on_artifact_type_with_oci_filters_applied(client, registry, subject):
    sbom = referrer(registry, subject, "sbom", artifact_type=SBOM)
    referrer(registry, subject, "sig", artifact_type=SIGNATURE)
    response, manifests = listing(client, subject, f"?artifactType={SBOM}")
    assert [m["digest"] for m in manifests] == [sbom.digest]
    assert response.headers["OCI-Filters-Applied"] == "artifactType"


def test_referrers_filter_that_matches_nothing_is_an_empty_index(client, registry, subject):
    referrer(registry, subject, "sbom", artifact_type=SBOM)
    response, manifests = listing(client, subject, "?artifactType=application/vnd.none")
    assert manifests == []
    assert response.headers["OCI-Filters-Applied"] == "artifactType"


def test_referrers_only_list_manifests_of_the_same_repository(client, registry, subject):
    elsewhere = image("elsewhere", subject=subject.descriptor())
    push(registry, "other/repo", elsewhere)
    _, manifests = listing(client, subject)
    assert manifests == []


def test_referrers_are_paginated_with_a_next_link(client, registry, subject):
    registry.configure(referrers_page_size=2)
    made = sorted(referrer(registry, subject, f"r{i}", artifact_type=SBOM).digest for i in range(5))
    url, pages = f"/v2/demo/app/referrers/{subject.digest}", []
    while url:
        response = client.get(url)
        pages.append([m["digest"] for m in json.loads(response.data)["manifests"]])
        url = next_link(response) if "Link" in response.headers else None
    assert pages == [made[0:2], made[2:4], made[4:]]


def test_referrers_pagination_keeps_the_filter(client, registry, subject):
    registry.configure(referrers_page_size=1)
    sboms = sorted(referrer(registry, subject, f"s{i}", artifact_type=SBOM).digest for i in range(2))
    referrer(registry, subject, "sig", artifact_type=SIGNATURE)
    first = client.get(f"/v2/demo/app/referrers/{subject.digest}?artifactType={SBOM}")
    second = client.get(next_link(first))
    assert [json.loads(r.data)["manifests"][0]["digest"] for r in (first, second)] == sboms
    assert second.headers["OCI-Filters-Applied"] == "artifactType"
    assert "Link" not in second.headers


def test_referrers_with_malformed_digest_is_400_digest_invalid(client):
    assert_error(client.get("/v2/demo/app/referrers/sha256:nothex"), 400, "DIGEST_INVALID")


def test_referrer_pushed_before_its_subject_is_listed(client, registry):
    subject = image("later")
    early = image("early", subject=subject.descriptor(), artifact_type=SBOM)
    push(registry, "demo/app", early)
    push(registry, "demo/app", subject)
    _, manifests = listing(client, subject)
    assert [m["digest"] for m in manifests] == [early.digest]
