"""Shared by the events tests: one script of registry operations run over HTTP against any
registry (mockreg, or the reference registry 2.8 when installed), and what each step should notify."""

from __future__ import annotations

import hashlib
import json
import socket
from typing import Any, Dict, List, Tuple

import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


CONFIG = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
LAYER = b"events test layer\n" * 8
MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": OCI_MANIFEST,
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(CONFIG), "size": len(CONFIG)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(LAYER), "size": len(LAYER)}],
}).encode()


def upload(base: str, name: str, data: bytes) -> None:
    started = requests.post(f"{base}/v2/{name}/blobs/uploads/")
    assert started.status_code == 202, started.text
    location = started.headers["Location"]
    if location.startswith("/"):
        location = base + location
    separator = "&" if "?" in location else "?"
    done = requests.put(f"{location}{separator}digest={sha256(data)}", data=data,
                        headers={"Content-Type": "application/octet-stream"})
    assert done.status_code == 201, done.text


def run_script(base: str) -> List[Tuple[str, int]]:
    """Push, pull, mount and delete over HTTP; returns (step, status) for each request."""
    manifest_digest = sha256(MANIFEST)
    steps: List[Tuple[str, int]] = []

    def step(label: str, response: Any) -> None:
        steps.append((label, response.status_code))

    upload(base, "demo/app", CONFIG)
    upload(base, "demo/app", LAYER)
    step("manifest put by tag", requests.put(f"{base}/v2/demo/app/manifests/1.0", data=MANIFEST,
                                             headers={"Content-Type": OCI_MANIFEST}))
    accept = {"Accept": OCI_MANIFEST}
    step("manifest get by tag", requests.get(f"{base}/v2/demo/app/manifests/1.0", headers=accept))
    step("manifest head by digest", requests.head(f"{base}/v2/demo/app/manifests/{manifest_digest}", headers=accept))
    step("manifest get, not modified", requests.get(f"{base}/v2/demo/app/manifests/1.0",
                                                    headers={**accept, "If-None-Match": f'"{manifest_digest}"'}))
    step("blob get", requests.get(f"{base}/v2/demo/app/blobs/{sha256(LAYER)}"))
    step("blob head", requests.head(f"{base}/v2/demo/app/blobs/{sha256(CONFIG)}"))
    step("blob range", requests.get(f"{base}/v2/demo/app/blobs/{sha256(LAYER)}", headers={"Range": "bytes=0-9"}))
    step("unknown blob", requests.get(f"{base}/v2/demo/app/blobs/{sha256(b'nothing')}"))
    step("mount", requests.post(f"{base}/v2/other/app/blobs/uploads/?mount={sha256(LAYER)}&from=demo/app"))
    step("blob delete", requests.delete(f"{base}/v2/other/app/blobs/{sha256(LAYER)}"))
    step("manifest delete", requests.delete(f"{base}/v2/demo/app/manifests/{manifest_digest}"))
    return steps


EXPECTED_STATUSES = [("manifest put by tag", 201), ("manifest get by tag", 200), ("manifest head by digest", 200),
                     ("manifest get, not modified", 304), ("blob get", 200), ("blob head", 200),
                     ("blob range", 206), ("unknown blob", 404), ("mount", 201), ("blob delete", 202),
                     ("manifest delete", 202)]


def normalized(event: Dict[str, Any], base: str) -> Dict[str, Any]:
    """What must agree between two registries: action, method and target (URL without its host)."""
    target = dict(event["target"])
    if "url" in target:
        assert target["url"].startswith(base + "/v2/"), (target["url"], base)
        target["url"] = target["url"][len(base):]
    return {"action": event["action"], "method": event["request"]["method"], "target": target,
            "target keys": list(event["target"])}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
