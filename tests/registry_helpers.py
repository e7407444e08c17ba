"""Builders and assertions shared by the registry-core tests (pull, push, discovery, management).

Everything here goes through the public surface: HTTP via werkzeug's test client, or the
`Registry` Python API. `snapshot` is the one exception: it reads the store to prove that a
failing request changed nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Request

from mockreg import Registry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

# The spec's "Error Codes" table: every error body must use one of these.
SPEC_ERROR_CODES = frozenset({
    "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID",
    "NAME_UNKNOWN", "SIZE_INVALID", "UNAUTHORIZED", "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS",
})


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha512(data: bytes) -> str:
    return "sha512:" + hashlib.sha512(data).hexdigest()


def assert_error(response: Any, status: int, code: str) -> Dict[str, Any]:
    """The response is the spec's error JSON with `status` and `code`; returns the error entry."""
    assert response.status_code == status, (response.status_code, response.data)
    assert response.headers["Content-Type"] == "application/json"
    assert int(response.headers["Content-Length"]) == len(response.data)
    body = json.loads(response.data)
    assert list(body) == ["errors"]
    assert body["errors"], "an error body lists at least one error"
    for error in body["errors"]:
        assert error["code"] in SPEC_ERROR_CODES
        assert isinstance(error.get("message", ""), str)
    assert body["errors"][0]["code"] == code, body
    return body["errors"][0]


def descriptor(media_type: str, data: bytes, **extra: Any) -> Dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}


@dataclass
class Image:
    """A manifest and the blobs it references, ready to push."""

    body: bytes
    media_type: str
    blobs: Dict[str, bytes]

    @property
    def digest(self) -> str:
        return sha256(self.body)

    @property
    def json(self) -> Dict[str, Any]:
        return json.loads(self.body)

    def descriptor(self, **extra: Any) -> Dict[str, Any]:
        return descriptor(self.media_type, self.body, **extra)


def image(seed: str = "app", layers: int = 1, *, media_type: str = OCI_MANIFEST,
          config_type: Optional[str] = None, layer_type: Optional[str] = None,
          subject: Optional[Dict[str, Any]] = None, artifact_type: Optional[str] = None,
          annotations: Optional[Dict[str, str]] = None, declare_media_type: bool = True) -> Image:
    """A small image manifest whose blobs are derived from `seed`, so two seeds never collide."""
    docker = media_type == DOCKER_MANIFEST
    config = json.dumps({"seed": seed}).encode()
    config_type = config_type or (DOCKER_CONFIG if docker else OCI_CONFIG)
    layer_type = layer_type or (DOCKER_LAYER if docker else OCI_LAYER)
    contents = [f"{seed} layer {i}".encode() for i in range(layers)]
    document: Dict[str, Any] = {"schemaVersion": 2}
    if declare_media_type:
        document["mediaType"] = media_type
    if artifact_type is not None:
        document["artifactType"] = artifact_type
    document["config"] = descriptor(config_type, config)
    document["layers"] = [descriptor(layer_type, data) for data in contents]
    if subject is not None:
        document["subject"] = subject
    if annotations is not None:
        document["annotations"] = annotations
    blobs = {sha256(data): data for data in [config, *contents]}
    return Image(json.dumps(document, indent=2).encode(), media_type, blobs)


def index(children: Sequence[Image], *, media_type: str = OCI_INDEX, subject: Optional[Dict[str, Any]] = None,
          artifact_type: Optional[str] = None, annotations: Optional[Dict[str, str]] = None) -> Image:
    document: Dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type,
                                "manifests": [child.descriptor() for child in children]}
    if artifact_type is not None:
        document["artifactType"] = artifact_type
    if subject is not None:
        document["subject"] = subject
    if annotations is not None:
        document["annotations"] = annotations
    return Image(json.dumps(document).encode(), media_type, {})


def push(registry: Registry, name: str, content: Image, tags: Sequence[str] = ()) -> str:
    """Arrange state through the Python API: the blobs, then the manifest."""
    for data in content.blobs.values():
        registry.push_blob(name, data)
    return registry.push_manifest(name, content.body, list(tags), media_type=content.media_type)


def put_manifest(client: Client, name: str, reference: str, content: Image, query: str = "",
                 content_type: Optional[str] = None) -> Any:
    return client.put(f"/v2/{name}/manifests/{reference}{query}", data=content.body,
                      headers={"Content-Type": content_type or content.media_type})


def upload(client: Client, name: str, data: bytes) -> Any:
    """POST then PUT: the plain monolithic blob upload."""
    location = start_upload(client, name)
    return client.put(f"{location}?digest={sha256(data)}", data=data,
                      headers={"Content-Type": "application/octet-stream"})


def start_upload(client: Client, name: str, query: str = "") -> str:
    response = client.post(f"/v2/{name}/blobs/uploads/{query}")
    assert response.status_code == 202, response.data
    return response.headers["Location"]


def streamed(client: Client, method: str, path: str, parts: List[bytes], headers: Optional[Dict[str, str]] = None,
             query: str = "") -> Any:
    """A request whose body comes with `Transfer-Encoding: chunked` and no Content-Length, as the
    live server hands it to the app (`wsgi.input_terminated`)."""
    body = b"".join(parts)
    environ = EnvironBuilder(path=path, method=method, data=body, headers=headers or {},
                             query_string=query).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    environ["wsgi.input_terminated"] = True
    return client.open(Request(environ))


def snapshot(registry: Registry) -> Dict[str, Any]:
    """Everything the store holds, as plain values, to compare before and after a request."""
    store = registry.store
    with store.lock:
        return {
            "blobs": {digest: bytes(data) for digest, data in store.blobs.items()},
            "repositories": {
                name: {
                    "blobs": sorted(repo.blobs),
                    "manifests": {d: (m.media_type, m.body) for d, m in repo.manifests.items()},
                    "tags": dict(repo.tags),
                    "referrers": json.dumps(repo.referrers, sort_keys=True),
                    "tag_history": {t: list(h) for t, h in repo.tag_history.items()},
                }
                for name, repo in store.repositories.items()
            },
            "uploads": {
                upload_id: (s.repository, bytes(s.buffer), s.hasher.hexdigest(), s.closed)
                for upload_id, s in store.uploads.items()
            },
        }
