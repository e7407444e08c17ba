"""A violating and a compliant exchange for every client rule, run by tests/test_client_checks.py
and shown in docs/client-checks.md. Each example drives a fresh registry (with the rule's
`settings`) over HTTP in process, as a client would."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..manifests import OCI_INDEX, OCI_MANIFEST

Example = Callable[["ExampleClient"], None]
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class ExampleClient:
    """A few HTTP calls against a registry's WSGI app, plus state arranged through Python."""

    def __init__(self, registry: Any, user_agent: str = "example-client/1.0") -> None:
        from werkzeug.test import Client  # examples run in tests and docs, never on the request path
        self.registry = registry
        self._client = Client(registry)
        self.user_agent = user_agent

    def request(self, method: str, path: str, body: bytes = b"", **headers: str) -> Any:
        sent = {"User-Agent": self.user_agent, **{k.replace("_", "-"): v for k, v in headers.items()}}
        # werkzeug's test client drops `Content-Length: 0`; real clients send it with POST, PUT and PATCH.
        length = {"CONTENT_LENGTH": str(len(body))} if method in ("POST", "PUT", "PATCH") else {}
        return self._client.open(path, method=method, data=body, headers=sent, environ_overrides=length)

    def image(self, name: str, tag: Optional[str] = None, seed: str = "app",
              subject: Optional[str] = None) -> Tuple[bytes, str]:
        """An OCI image manifest whose blobs are in `name` (pushed through Python, so not judged)."""
        config = json.dumps({"seed": seed}).encode()
        layer = f"{seed} layer".encode()
        for data in (config, layer):
            self.registry.push_blob(name, data)
        document: Dict[str, Any] = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER, "digest": sha256(layer), "size": len(layer)}]}
        if subject is not None:
            document["subject"] = {"mediaType": OCI_MANIFEST, "digest": subject, "size": 1}
        body = json.dumps(document).encode()
        if tag is not None:
            self.registry.push_manifest(name, body, tag)
        return body, sha256(body)

    def start_upload(self, name: str, query: str = "") -> str:
        return self.request("POST", f"/v2/{name}/blobs/uploads/{query}").headers["Location"]



# -- manifests ----------------------------------------------------------------------------------------
def c001_bad(c: ExampleClient) -> None:
    body, _ = c.image("demo/app")
    c.request("PUT", "/v2/demo/app/manifests/1.0", body, Content_Type="application/json")


def c001_good(c: ExampleClient) -> None:
    body, _ = c.image("demo/app")
    c.request("PUT", "/v2/demo/app/manifests/1.0", body, Content_Type=OCI_MANIFEST)


def c002_bad(c: ExampleClient) -> None:
    body, _ = c.image("demo/app")
    c.request("PUT", "/v2/demo/app/manifests/1.0", body, Content_Type=OCI_MANIFEST + "; charset=utf-8")


def c003_bad(c: ExampleClient) -> None:
    body, _ = c.image("demo/app")
    document = json.loads(body)
    del document["mediaType"]
    c.request("PUT", "/v2/demo/app/manifests/1.0", json.dumps(document).encode(), Content_Type="text/plain")


def c003_good(c: ExampleClient) -> None:
    body, _ = c.image("demo/app")
    document = json.loads(body)
    del document["mediaType"]
    c.request("PUT", "/v2/demo/app/manifests/1.0", json.dumps(document).encode(), Content_Type=OCI_MANIFEST)


def c004_bad(c: ExampleClient) -> None:
    c.image("demo/app", "1.0")
    c.request("GET", "/v2/demo/app/manifests/1.0")


def c004_good(c: ExampleClient) -> None:
    c.image("demo/app", "1.0")
    c.request("GET", "/v2/demo/app/manifests/1.0", Accept=f"{OCI_MANIFEST}, {OCI_INDEX}")


def c005_bad(c: ExampleClient) -> None:
    c.image("demo/app", "1.0")
    c.request("HEAD", "/v2/demo/app/manifests/1.0", Accept="application/vnd.docker.distribution.manifest.v2+json")


def c005_good(c: ExampleClient) -> None:
    c.image("demo/app", "1.0")
    c.request("HEAD", "/v2/demo/app/manifests/1.0",
              Accept=f"application/vnd.docker.distribution.manifest.v2+json;q=0.9, {OCI_MANIFEST}")


# -- uploads ------------------------------------------------------------------------------------------
BLOB = b"hello, chunks"


def c006_bad(c: ExampleClient) -> None:  # the registry's Location carries `?_state=...`
    location = c.start_upload("demo/app")
    session = location.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    c.request("PUT", f"/v2/demo/app/blobs/uploads/{session}?digest={sha256(BLOB)}", BLOB)


def c006_good(c: ExampleClient) -> None:
    location = c.start_upload("demo/app")
    separator = "&" if "?" in location else "?"
    c.request("PUT", f"{location}{separator}digest={sha256(BLOB)}", BLOB)


def c007_bad(c: ExampleClient) -> None:
    location = c.start_upload("demo/app")
    c.request("PATCH", location, BLOB[:5], Content_Range="5-9")


def c007_good(c: ExampleClient) -> None:
    location = c.start_upload("demo/app")
    location = c.request("PATCH", location, BLOB[:5], Content_Range="0-4").headers["Location"]
    location = c.request("PATCH", location, BLOB[5:], Content_Range=f"5-{len(BLOB) - 1}").headers["Location"]
    c.request("PUT", f"{location}?digest={sha256(BLOB)}")


def c008_bad(c: ExampleClient) -> None:  # the registry asks for chunks of at least 4 bytes
    location = c.start_upload("demo/app")
    location = c.request("PATCH", location, BLOB[:2], Content_Range="0-1").headers["Location"]
    location = c.request("PATCH", location, BLOB[2:], Content_Range=f"2-{len(BLOB) - 1}").headers["Location"]
    c.request("PUT", f"{location}?digest={sha256(BLOB)}")


def c008_good(c: ExampleClient) -> None:
    location = c.start_upload("demo/app")
    location = c.request("PATCH", location, BLOB[:8], Content_Range="0-7").headers["Location"]
    location = c.request("PATCH", location, BLOB[8:], Content_Range=f"8-{len(BLOB) - 1}").headers["Location"]
    c.request("PUT", f"{location}?digest={sha256(BLOB)}")


def c009_bad(c: ExampleClient) -> None:
    location = c.start_upload("demo/app")
    c.request("PUT", location, BLOB)
    c.request("DELETE", location)


def c009_good(c: ExampleClient) -> None:
    c006_good(c)


def c010_bad(c: ExampleClient) -> None:
    c.request("POST", f"/v2/demo/app/blobs/uploads/?digest={sha256(b'something else')}", BLOB)


def c010_good(c: ExampleClient) -> None:
    c.request("POST", f"/v2/demo/app/blobs/uploads/?digest={sha256(BLOB)}", BLOB)


def _sha512(data: bytes) -> str:
    return "sha512:" + hashlib.sha512(data).hexdigest()


def c011_bad(c: ExampleClient) -> None:
    location = c.start_upload("demo/app")
    c.request("PUT", f"{location}?digest={_sha512(BLOB)}", BLOB)


def c011_good(c: ExampleClient) -> None:
    location = c.start_upload("demo/app", "?digest-algorithm=sha512")
    c.request("PUT", f"{location}?digest={_sha512(BLOB)}", BLOB)


def c022_bad(c: ExampleClient) -> None:  # a POST with no Content-Length header at all
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/v2/demo/app/blobs/uploads/", "wsgi.input": io.BytesIO(),
               "wsgi.url_scheme": "http", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
               "HTTP_USER_AGENT": c.user_agent}
    answered: List[Any] = []
    c.registry(environ, lambda status, headers: answered.extend(headers))
    c.request("DELETE", dict(answered)["Location"])


def c022_good(c: ExampleClient) -> None:
    location = c.request("POST", "/v2/demo/app/blobs/uploads/", Content_Length="0").headers["Location"]
    c.request("DELETE", location)


def c020_bad(c: ExampleClient) -> None:
    c.start_upload("demo/app")


def c020_good(c: ExampleClient) -> None:
    c.request("DELETE", c.start_upload("demo/app"))


# -- retries and tokens -------------------------------------------------------------------------------
def _rate_limited(c: ExampleClient) -> None:
    c.image("demo/app", "1.0")
    c.registry.clock.freeze()
    c.registry.rate_limit(1, window=60)
    c.request("GET", "/v2/demo/app/manifests/1.0", Accept=OCI_MANIFEST)
    c.request("GET", "/v2/demo/app/manifests/1.0", Accept=OCI_MANIFEST)  # 429, Retry-After


def c012_bad(c: ExampleClient) -> None:
    _rate_limited(c)
    c.request("GET", "/v2/demo/app/manifests/1.0", Accept=OCI_MANIFEST)


def c012_good(c: ExampleClient) -> None:
    _rate_limited(c)
    c.registry.clock.advance(61)
    c.request("GET", "/v2/demo/app/manifests/1.0", Accept=OCI_MANIFEST)


def _bearer(c: ExampleClient, scope: str) -> str:
    if c.registry.auth is None:
        c.registry.enable_auth(scheme="bearer",
                               users=[{"name": "alice", "password": "pw", "access": {"demo/*": "pull,push"}}])
    credentials = "Basic YWxpY2U6cHc="  # alice:pw
    answer = c.request("GET", f"/token?service=mockreg&scope={scope}", Authorization=credentials)
    return "Bearer " + answer.get_json()["token"]


def c013_bad(c: ExampleClient) -> None:
    c.image("demo/app", "1.0")
    for _ in range(2):
        token = _bearer(c, "repository:demo/app:pull")
        c.request("GET", "/v2/demo/app/manifests/1.0", Accept=OCI_MANIFEST, Authorization=token)


def c013_good(c: ExampleClient) -> None:
    c.image("demo/app", "1.0")
    token = _bearer(c, "repository:demo/app:pull")
    for _ in range(2):
        c.request("GET", "/v2/demo/app/manifests/1.0", Accept=OCI_MANIFEST, Authorization=token)


def c014_bad(c: ExampleClient) -> None:
    c.image("demo/app", "1.0")
    token = _bearer(c, "repository:demo/app:pull,push")
    c.request("GET", "/v2/demo/app/manifests/1.0", Accept=OCI_MANIFEST, Authorization=token)


def c014_good(c: ExampleClient) -> None:
    c013_good(c)


# -- referrers and verification -------------------------------------------------------------------------
def _attach(c: ExampleClient) -> Tuple[str, bytes]:
    """Push a signature-like manifest whose subject is demo/app:1.0 (the registry lacks the referrers API)."""
    _, subject = c.image("demo/app", "1.0")
    body, _ = c.image("demo/app", seed="signature", subject=subject)
    c.request("PUT", f"/v2/demo/app/manifests/{sha256(body)}", body, Content_Type=OCI_MANIFEST)
    return "sha256-" + subject.split(":", 1)[1], body


def _index(*entries: bytes) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": sha256(e), "size": len(e)} for e in entries]}).encode()


def c015_bad(c: ExampleClient) -> None:
    tag, body = _attach(c)
    c.registry.push_manifest("demo/app", _index(), tag)  # someone else's list
    c.request("GET", f"/v2/demo/app/manifests/{tag}", Accept=OCI_INDEX)
    c.request("PUT", f"/v2/demo/app/manifests/{tag}", _index(body), Content_Type=OCI_INDEX)


def c015_good(c: ExampleClient) -> None:
    tag, body = _attach(c)
    c.registry.push_manifest("demo/app", _index(), tag)
    etag = c.request("GET", f"/v2/demo/app/manifests/{tag}", Accept=OCI_INDEX).headers["ETag"]
    c.request("PUT", f"/v2/demo/app/manifests/{tag}", _index(body), Content_Type=OCI_INDEX, If_Match=etag)


def c016_bad(c: ExampleClient) -> None:
    _, subject = c.image("demo/app", "1.0")
    c.request("GET", f"/v2/demo/app/referrers/{subject}")


def c016_good(c: ExampleClient) -> None:
    _, subject = c.image("demo/app", "1.0")
    c.request("GET", f"/v2/demo/app/referrers/{subject}")
    c.request("GET", f"/v2/demo/app/manifests/sha256-{subject.split(':', 1)[1]}", Accept=OCI_INDEX)


def c017_bad(c: ExampleClient) -> None:
    _attach(c)


def c017_good(c: ExampleClient) -> None:
    tag, body = _attach(c)
    c.request("GET", f"/v2/demo/app/manifests/{tag}", Accept=OCI_INDEX)  # 404: start from an empty index
    c.request("PUT", f"/v2/demo/app/manifests/{tag}", _index(body), Content_Type=OCI_INDEX)


def _signed(c: ExampleClient) -> Tuple[str, bytes, str]:
    """A signature with an artifactType and an annotation, pushed without the referrers API."""
    tag, body = _attach(c)
    document = json.loads(body)
    document.update(artifactType="application/x.sig", annotations={"signed-by": "ci"})
    signature = json.dumps(document).encode()
    c.request("PUT", f"/v2/demo/app/manifests/{sha256(signature)}", signature, Content_Type=OCI_MANIFEST)
    return tag, signature, sha256(signature)


def _referrers_list(*descriptors: Dict[str, Any]) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list(descriptors)}).encode()


def c023_bad(c: ExampleClient) -> None:
    tag, signature, digest = _signed(c)
    listing = _referrers_list({"mediaType": OCI_MANIFEST, "digest": digest, "size": len(signature)})
    c.request("PUT", f"/v2/demo/app/manifests/{tag}", listing, Content_Type=OCI_INDEX)


def c023_good(c: ExampleClient) -> None:
    tag, signature, digest = _signed(c)
    listing = _referrers_list({"mediaType": OCI_MANIFEST, "digest": digest, "size": len(signature),
                               "artifactType": "application/x.sig", "annotations": {"signed-by": "ci"}})
    c.request("PUT", f"/v2/demo/app/manifests/{tag}", listing, Content_Type=OCI_INDEX)


def c024_bad(c: ExampleClient) -> None:
    tag, signature, digest = _signed(c)
    entry = {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(signature),
             "artifactType": "application/x.sig", "annotations": {"signed-by": "ci"}}
    c.request("PUT", f"/v2/demo/app/manifests/{tag}", _referrers_list(entry, entry), Content_Type=OCI_INDEX)


def _corrupted_pull(c: ExampleClient) -> Tuple[bytes, str]:
    body, _ = c.image("demo/app", "1.0")
    layer = json.loads(body)["layers"][0]["digest"]
    c.registry.add_fault(kinds=["blob-get"], first=1, corrupt=True)
    c.request("GET", f"/v2/demo/app/blobs/{layer}")  # damaged bytes
    return body, layer


def c018_bad(c: ExampleClient) -> None:
    body, _ = _corrupted_pull(c)
    c.request("PUT", "/v2/demo/app/manifests/copy", body, Content_Type=OCI_MANIFEST)


def c018_good(c: ExampleClient) -> None:
    body, layer = _corrupted_pull(c)
    c.request("GET", f"/v2/demo/app/blobs/{layer}")  # the digest did not match: fetched again
    c.request("PUT", "/v2/demo/app/manifests/copy", body, Content_Type=OCI_MANIFEST)


def c019_bad(c: ExampleClient) -> None:
    c.image("demo/app", "1.0")
    c.request("GET", "/v2/demo/app/manifests/1.0?ns=docker.io", Accept=OCI_MANIFEST)


def c019_good(c: ExampleClient) -> None:
    c.image("demo/app", "1.0")
    c.request("GET", "/v2/demo/app/manifests/1.0", Accept=OCI_MANIFEST)


def c021_bad(c: ExampleClient) -> None:
    c.request("GET", "/v2/Demo/App/manifests/latest", Accept=OCI_MANIFEST)
    c.request("GET", "/v2/demo/app/manifests/-latest", Accept=OCI_MANIFEST)


def c021_good(c: ExampleClient) -> None:
    c.request("GET", "/v2/demo/app/manifests/latest", Accept=OCI_MANIFEST)


EXAMPLES: Dict[str, Tuple[Example, Example]] = {
    "OCI-C001": (c001_bad, c001_good), "OCI-C002": (c002_bad, c001_good), "OCI-C003": (c003_bad, c003_good),
    "OCI-C004": (c004_bad, c004_good), "OCI-C005": (c005_bad, c005_good), "OCI-C006": (c006_bad, c006_good),
    "OCI-C007": (c007_bad, c007_good), "OCI-C008": (c008_bad, c008_good), "OCI-C009": (c009_bad, c009_good),
    "OCI-C010": (c010_bad, c010_good), "OCI-C011": (c011_bad, c011_good), "OCI-C012": (c012_bad, c012_good),
    "OCI-C013": (c013_bad, c013_good), "OCI-C014": (c014_bad, c014_good), "OCI-C015": (c015_bad, c015_good),
    "OCI-C016": (c016_bad, c016_good), "OCI-C017": (c017_bad, c017_good), "OCI-C018": (c018_bad, c018_good),
    "OCI-C019": (c019_bad, c019_good), "OCI-C020": (c020_bad, c020_good), "OCI-C021": (c021_bad, c021_good),
    "OCI-C022": (c022_bad, c022_good), "OCI-C023": (c023_bad, c023_good), "OCI-C024": (c024_bad, c023_good),
}
