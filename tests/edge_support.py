"""Helpers shared by the edge-case tests (auth, faults, rate limits, control API)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Dict, Tuple

from mockreg import Registry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def basic(user: str, password: str) -> Dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def bearer(token: str) -> Dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def push_image(registry: Registry, name: str, tag: str = "1.0", layer: bytes = b"layer bytes") -> Tuple[str, str]:
    """A small OCI image in `name:tag`; returns (manifest digest, layer digest)."""
    config = b"{}"
    registry.push_blob(name, config)
    layer_digest = registry.push_blob(name, layer)
    manifest = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(config), "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest,
                    "size": len(layer)}],
    }
    return registry.push_manifest(name, manifest, tag), layer_digest


def manifest_bytes(config_digest: str, layer_digest: str, layer_size: int) -> bytes:
    return json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest,
                    "size": layer_size}],
    }).encode()
