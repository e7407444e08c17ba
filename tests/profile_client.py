"""A small registry client for the profile tests: follows whatever challenge a profile sends
(Basic, or Bearer through the realm it names) the way real clients do, so a test sees exactly
what a client of that registry would see (status, headers, body)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any, Dict, List, Optional, Tuple

import requests

from mockreg import Registry

USER, PASSWORD = "alice", "s3cret-pass"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def profiled(name: str, **settings: Any) -> Registry:
    """A registry behaving like profile `name`, with one user who may do everything."""
    return Registry(profile=name, users=[(USER, PASSWORD)], **settings)


def challenge(header: str) -> Tuple[str, Dict[str, str]]:
    scheme, _, rest = header.partition(" ")
    return scheme.lower(), dict(re.findall(r'(\w+)="([^"]*)"', rest))


class Client:
    """`get/put/post/...` against a live server, answering challenges with USER:PASSWORD
    (or as nobody when `anonymous`)."""

    def __init__(self, url: str, anonymous: bool = False) -> None:
        self.url, self.anonymous = url, anonymous
        self.basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self.session = requests.Session()
        self.authorization: Optional[str] = None
        self.token_answers: List[requests.Response] = []

    def request(self, method: str, path: str, scope: str = "", **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if self.authorization:
            headers["Authorization"] = self.authorization
        response = self.session.request(method, self.url + path, headers=headers, **kwargs)
        if response.status_code == 401 and "WWW-Authenticate" in response.headers:
            self.authorization = self.answer(response.headers["WWW-Authenticate"], scope)
            if self.authorization:
                headers["Authorization"] = self.authorization
                response = self.session.request(method, self.url + path, headers=headers, **kwargs)
        return response

    def answer(self, header: str, scope: str) -> Optional[str]:
        scheme, params = challenge(header)
        if scheme == "basic":
            return None if self.anonymous else self.basic
        query = {"service": params.get("service", "")}
        if scope or params.get("scope"):
            query["scope"] = scope or params["scope"]
        headers = {} if self.anonymous else {"Authorization": self.basic}
        token = self.session.get(params["realm"], params=query, headers=headers)
        self.token_answers.append(token)
        if token.status_code != 200:
            return None
        document = token.json()
        return "Bearer " + (document.get("token") or document["access_token"])

    def push_blob(self, name: str, data: bytes) -> requests.Response:
        scope = f"repository:{name}:pull,push"
        started = self.request("POST", f"/v2/{name}/blobs/uploads/", scope)
        if started.status_code != 202:
            return started
        location = started.headers["Location"]
        path = location[len(self.url):] if location.startswith("http") else location
        joiner = "&" if "?" in path else "?"
        return self.request("PUT", f"{path}{joiner}digest={sha256(data)}", scope, data=data,
                            headers={"Content-Type": "application/octet-stream"})

    def push_image(self, name: str, tag: str,
                   extra: Optional[Dict[str, Any]] = None) -> Tuple[requests.Response, bytes]:
        """config + layer + manifest; (the manifest PUT's answer, the manifest bytes)."""
        config, layer = b"{}", b"layer of " + name.encode()
        for blob in (config, layer):
            pushed = self.push_blob(name, blob)
            if pushed.status_code != 201:
                return pushed, b""
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": sha256(config), "size": len(config)},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                "digest": sha256(layer), "size": len(layer)}]}
        manifest.update(extra or {})
        body = json.dumps(manifest).encode()
        answer = self.request("PUT", f"/v2/{name}/manifests/{tag}", f"repository:{name}:pull,push", data=body,
                              headers={"Content-Type": OCI_MANIFEST})
        return answer, body


def error_of(response: requests.Response) -> Dict[str, Any]:
    """The first OCI error of an answer's body."""
    return response.json()["errors"][0]
