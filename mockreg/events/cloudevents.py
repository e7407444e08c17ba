"""`format: cloudevents`: the same changes as zot's events extension sends them.

Source: project-zot/zot `pkg/extensions/events/` (common.go: types and source; events.go: the
data fields; builder.go: id, time, source, JSON data with `actor`/`request` from the request
context; http_sink.go: the CloudEvents Go SDK's HTTP client, which sends binary content mode:
`ce-*` headers, the data as the body) and `pkg/storage/imagestore/imagestore.go` (when each fires:
repository created on a repository's first write, image updated once per tag a manifest PUT
set — or its reference — and image deleted for a manifest or tag DELETE).

zot sends nothing for blobs or pulls, so those events are not offered to such an endpoint; a
manifest delete is one `image.deleted`, not followed by the tag deletes distribution sends.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

from .record import PYTHON_METHOD, Event

SOURCE = "zotregistry.dev"
IMAGE_UPDATED = "zotregistry.image.updated"
IMAGE_DELETED = "zotregistry.image.deleted"
REPOSITORY_CREATED = "zotregistry.repository.created"


def zot_event(event: Event) -> Optional[Tuple[str, Dict[str, Any]]]:
    """(type, data) of the zot event for this change, or None when zot sends none."""
    target = event.body["target"]
    name = event.repository
    if event.kind == "repository":
        return REPOSITORY_CREATED, _with_context(event, {"name": name})
    manifest = event.subject
    if manifest is None or event.kind not in ("manifest", "tag") or event.action not in ("push", "delete"):
        return None
    data: Dict[str, Any] = {"name": name, "reference": target.get("tag") or manifest.digest,
                            "digest": manifest.digest, "mediaType": manifest.media_type}
    if event.action == "push":
        data["manifest"] = manifest.body.decode("utf-8", "replace")
        return IMAGE_UPDATED, _with_context(event, data)
    return IMAGE_DELETED, _with_context(event, data)


def _with_context(event: Event, data: Dict[str, Any]) -> Dict[str, Any]:
    """zot's EventContext: the actor when authenticated, and the request (none for the Python API)."""
    actor = event.body.get("actor") or {}
    if actor.get("name"):
        data["actor"] = {"name": actor["name"]}
    request = event.body["request"]
    if request.get("method") != PYTHON_METHOD:
        data["request"] = {"addr": request.get("addr", ""), "method": request.get("method", ""),
                           "useragent": request.get("useragent", "")}
    return data


def binary_message(event: Event, found: Tuple[str, Dict[str, Any]]) -> Tuple[List[Tuple[str, str]], bytes]:
    """Headers and body of a CloudEvents 1.0 HTTP binary-mode message; the data JSON as Go's
    json.Marshal writes a map (keys sorted, no spaces)."""
    kind, data = found
    headers = [("Ce-Specversion", "1.0"), ("Ce-Id", event.id), ("Ce-Source", SOURCE), ("Ce-Type", kind),
               ("Ce-Time", event.body["timestamp"]), ("Content-Type", "application/json")]
    return headers, json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
