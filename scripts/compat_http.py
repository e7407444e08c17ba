"""The requests and httpx rows of the compatibility table: the distribution spec's flows over a
plain HTTP library, following the profile's challenge to its realm as docs/profiles.md shows."""

from __future__ import annotations

import base64
import json
import re
from typing import Any, Dict, Tuple

from compat_clients import OCI_MANIFEST, SBOM, Failed, Target, digest, image_parts, short


def challenge(header: str) -> Tuple[str, Dict[str, str]]:
    """`Bearer realm="…",service="…"` → ("bearer", {"realm": …, "service": …})."""
    scheme, _, rest = header.partition(" ")
    return scheme.lower(), dict(re.findall(r'(\w+)="([^"]*)"', rest))


class RawHttp:
    """The spec's flows over a plain HTTP library, with the token dance of docs/profiles.md."""

    def __init__(self, name: str, target: Target, repository: str) -> None:
        self.name, self.t, self.repo = name, target, repository
        if name == "httpx":
            import httpx

            self.session: Any = httpx.Client(verify=str(target.ca), timeout=30)
        else:
            import requests

            self.session = requests.Session()
            self.session.verify = str(target.ca)
        self.basic = "Basic " + base64.b64encode(f"{target.user}:{target.password}".encode()).decode()
        self.tokens: Dict[str, str] = {}

    def close(self) -> None:
        self.session.close()

    def call(self, method: str, path: str, scope: str, expect: Tuple[int, ...], **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if scope in self.tokens:
            headers["Authorization"] = self.tokens[scope]
        if self.name == "requests":  # an explicit verify wins over REQUESTS_CA_BUNDLE and the like
            kwargs["verify"] = str(self.t.ca)
        response = self.session.request(method, self.t.url + path, headers=headers, **kwargs)
        if response.status_code == 401 and "WWW-Authenticate" in response.headers:
            self.tokens[scope] = self.authorization(response.headers["WWW-Authenticate"], scope)
            headers["Authorization"] = self.tokens[scope]
            response = self.session.request(method, self.t.url + path, headers=headers, **kwargs)
        if response.status_code not in expect:
            raise Failed(short(f"{method} {path.split('?')[0]} → {response.status_code} {short(response.text, 70)}"))
        return response

    def authorization(self, header: str, scope: str) -> str:
        scheme, params = challenge(header)
        if scheme == "basic":
            return self.basic
        query = {"service": params.get("service", ""), "scope": scope}
        extra = {"verify": str(self.t.ca)} if self.name == "requests" else {}
        answer = self.session.get(params["realm"], params=query, headers={"Authorization": self.basic}, **extra)
        if answer.status_code != 200:
            raise Failed(f"token endpoint → {answer.status_code} {short(answer.text, 70)}")
        document = answer.json()
        return "Bearer " + (document.get("token") or document["access_token"])

    def scope(self, actions: str = "pull,push") -> str:
        return f"repository:{self.repo}:{actions}"

    def login(self) -> None:
        self.call("GET", "/v2/", self.scope(), (200,))

    def body(self, data: bytes) -> Dict[str, bytes]:
        return {"content": data} if self.name == "httpx" else {"data": data}

    def put_blob(self, data: bytes) -> None:
        start = self.call("POST", f"/v2/{self.repo}/blobs/uploads/", self.scope(), (202,))
        location = start.headers["Location"]
        path = location[len(self.t.url):] if location.startswith("http") else location
        joiner = "&" if "?" in path else "?"
        self.call("PUT", f"{path}{joiner}digest={digest(data)}", self.scope(), (201,),
                  headers={"Content-Type": "application/octet-stream"}, **self.body(data))

    def put_manifest(self, reference: str, body: bytes) -> Any:
        return self.call("PUT", f"/v2/{self.repo}/manifests/{reference}", self.scope(), (201,),
                         headers={"Content-Type": OCI_MANIFEST}, **self.body(body))

    def push(self) -> None:
        layer, config, manifest = image_parts()
        self.put_blob(config)
        self.put_blob(layer)
        self.put_manifest("1.0", manifest)

    def pull(self) -> None:
        layer, _, manifest = image_parts()
        got = self.call("GET", f"/v2/{self.repo}/manifests/1.0", self.scope("pull"), (200,),
                        headers={"Accept": OCI_MANIFEST})
        if got.content != manifest:
            raise Failed("manifest bytes differ")
        if self.call("GET", f"/v2/{self.repo}/blobs/{digest(layer)}", self.scope("pull"), (200,)).content != layer:
            raise Failed("layer bytes differ")

    def tags(self) -> None:
        listed = self.call("GET", f"/v2/{self.repo}/tags/list", self.scope("pull"), (200,)).json()
        if "1.0" not in (listed.get("tags") or []):
            raise Failed(f"pushed tag missing from {listed.get('tags')}")

    def catalog(self) -> None:
        listed = self.call("GET", "/v2/_catalog", "registry:catalog:*", (200,)).json()
        if self.repo not in listed.get("repositories", []):
            raise Failed("pushed repository missing from the catalog page")

    def referrers(self) -> None:
        _, _, manifest = image_parts()
        empty = b"{}"
        self.put_blob(empty)
        artifact = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": SBOM,
                               "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                                          "digest": digest(empty), "size": 2},
                               "layers": [{"mediaType": "application/vnd.oci.empty.v1+json",
                                           "digest": digest(empty), "size": 2}],
                               "subject": {"mediaType": OCI_MANIFEST, "digest": digest(manifest),
                                           "size": len(manifest)}}).encode()
        self.put_manifest(digest(artifact), artifact)
        listed = self.call("GET", f"/v2/{self.repo}/referrers/{digest(manifest)}", self.scope("pull"), (200,))
        if digest(artifact) not in {entry["digest"] for entry in listed.json().get("manifests", [])}:
            raise Failed("the artifact is missing from the referrers list")

    def delete(self) -> None:
        _, _, manifest = image_parts()
        self.call("DELETE", f"/v2/{self.repo}/manifests/{digest(manifest)}", self.scope("delete,pull,push"), (202,))
