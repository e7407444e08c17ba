"""The bounded caches on the push path (media-type verdicts of manifest descriptors, header names
handlers look up) give the same answers as the uncached rules, for seen and unseen values, also
once they are full."""

from __future__ import annotations

import json

import pytest

from mockreg import http, manifests
from mockreg.errors import RegistryError
from mockreg.http import Request

LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def manifest_with_layer_type(media_type: str) -> bytes:
    descriptor = {"digest": "sha256:" + "a" * 64, "size": 1}
    return json.dumps({"schemaVersion": 2, "mediaType": manifests.OCI_MANIFEST,
                       "config": {**descriptor, "mediaType": "application/vnd.oci.image.config.v1+json"},
                       "layers": [{**descriptor, "mediaType": media_type}]}).encode()


def test_media_type_verdicts_match_the_rfc_6838_rule_before_and_after_the_cache_fills():
    values = [f"application/x-{i}" for i in range(1500)] + ["text", "a/", "/b", "a/b c", "é/x", "a/" + "b" * 127,
                                                          "a/" + "b" * 128, LAYER]
    for _ in range(2):  # the second pass answers from the cache where it could keep the verdict
        for value in values:
            assert manifests._is_media_type(value) == (manifests._MEDIA_TYPE.fullmatch(value) is not None), value
    assert len(manifests._MEDIA_TYPE_VERDICTS) <= 1024


@pytest.mark.parametrize("media_type", ["not a type", "application/", "x" * 300])
def test_a_descriptor_with_a_bad_media_type_is_refused_every_time(media_type):
    for _ in range(2):
        with pytest.raises(RegistryError) as refused:
            manifests.parse(manifest_with_layer_type(media_type), manifests.OCI_MANIFEST)
        assert refused.value.code == "MANIFEST_INVALID" and "layers[0].mediaType" in str(refused.value.detail)


def test_header_lookups_find_the_environ_keys_before_and_after_the_cache_fills():
    environ = {"CONTENT_TYPE": "a/b", "CONTENT_LENGTH": "3", "HTTP_CONTENT_RANGE": "0-2", "HTTP_X_CUSTOM": "v"}
    request = Request({"REQUEST_METHOD": "GET", "PATH_INFO": "/", **environ})
    for name in (f"X-Filler-{i}" for i in range(400)):
        assert request.header(name) is None
    assert len(http._ENVIRON_KEYS) <= 256
    for _ in range(2):
        assert request.header("Content-Type") == request.header("content-type") == "a/b"
        assert request.header("Content-Length") == "3"
        assert request.header("Content-Range") == "0-2"
        assert request.header("X-Custom") == "v"
        assert request.header("If-Match") is None
