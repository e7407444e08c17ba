"""Events as the reference registry writes them, field for field.

Sources (distribution/distribution): `notifications/event.go` (Event, RequestRecord, ActorRecord,
SourceRecord; JSON names and `omitempty`), `notifications/bridge.go` (what each action fills in),
`notifications/http.go` (one envelope per POST, `json.MarshalIndent(envelope, "", "   ")`) and
`docs/content/about/notifications.md`. Checked against registry 2.8.2 (Debian's docker-registry)
pushed to and pulled from by skopeo 1.9.3 (see tests/test_events_envelope.py):

- blob targets: mediaType `application/octet-stream` (the blob store's Stat), size, digest,
  length (= size), repository, [fromRepository for a mount], url `…/v2/<name>/blobs/<digest>`;
- manifest targets: mediaType, size, digest, length, repository, url `…/v2/<name>/manifests/<digest>`,
  tag when the request named one; `references` (its descriptors) with `events.includereferences`;
- deletes: only digest and repository; a tag delete only repository and tag;
- the URL is built from the request's scheme and Host; `request.addr` is the client's address.

The media type of the envelope is `application/vnd.docker.distribution.events.v1+json` in
registry 2.x (v2.8.3 `notifications/event.go`) and `…events.v2+json` from 3.0 (commit 0742b5667).
"""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Sequence

ENVELOPE_MEDIA_TYPES = {
    "distribution": "application/vnd.docker.distribution.events.v1+json",
    "distribution-v3": "application/vnd.docker.distribution.events.v2+json",
}
BLOB_MEDIA_TYPE = "application/octet-stream"
PYTHON_METHOD = "PYTHON"  # request.method of an event caused by the Python API, not by a request


class Event:
    """One event: `body` is the JSON object the reference registry sends (keys in its order);
    `seq` orders events of one registry; the other fields are for filtering and for other
    formats: `kind` says what changed ("blob", "manifest", "tag", "repository"; a repository
    creation has no distribution event, so its action is ""), `subject` the StoredManifest of a
    manifest or tag event."""

    __slots__ = ("seq", "body", "action", "repository", "media_type", "kind", "subject")

    def __init__(self, body: Dict[str, Any], kind: str = "", subject: Any = None) -> None:
        self.seq = 0
        self.body = body
        self.kind = kind
        self.subject = subject
        self.action: str = body["action"]
        target = body["target"]
        self.repository: str = target.get("repository", "")
        self.media_type: Optional[str] = target.get("mediaType")

    @property
    def id(self) -> str:
        return str(self.body["id"])

    @property
    def from_python(self) -> bool:
        return bool(self.body["request"]["method"] == PYTHON_METHOD)

    def __repr__(self) -> str:
        target = self.body["target"]
        where = target.get("tag") or target.get("digest", "")
        return f"<Event {self.action} {self.repository} {where}>"


class RequestContext:
    """The request (or Python API call) behind a store change: what every event of it shares."""

    __slots__ = ("request", "base_url", "actor", "source_addr")

    def __init__(self, request: Dict[str, str], base_url: str, actor: Dict[str, str], source_addr: str) -> None:
        self.request = request
        self.base_url = base_url
        self.actor = actor
        self.source_addr = source_addr

    @classmethod
    def of_wsgi(cls, environ: Dict[str, Any]) -> RequestContext:
        """distribution `NewRequestRecord`: RemoteAddr (X-Forwarded-For / X-Real-Ip first), Host,
        method, User-Agent; the actor is the authenticated user (`getUserName`)."""
        host = environ.get("HTTP_X_FORWARDED_HOST") or environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        forwarded = environ.get("HTTP_X_FORWARDED_FOR", "").split(",")[0].strip() or environ.get("HTTP_X_REAL_IP")
        port = environ.get("REMOTE_PORT")
        addr = forwarded or (f"{environ.get('REMOTE_ADDR', '')}:{port}" if port else environ.get("REMOTE_ADDR", ""))
        request = {"id": new_id(), "addr": addr, "host": host, "method": environ.get("REQUEST_METHOD", ""),
                   "useragent": environ.get("HTTP_USER_AGENT", "")}
        user = environ.get("mockreg.user")
        scheme = environ.get("HTTP_X_FORWARDED_PROTO") or environ.get("wsgi.url_scheme", "http")
        return cls(request, f"{scheme}://{host}" if host else "", {"name": user} if user else {},
                   f"{_HOSTNAME}:{environ.get('SERVER_PORT', '')}")

    @classmethod
    def of_python(cls, call: str) -> RequestContext:
        request = {"id": new_id(), "method": PYTHON_METHOD, "useragent": f"mockreg Python API ({call})"}
        return cls(request, "", {}, _HOSTNAME)


_HOSTNAME = socket.gethostname()


def event(action: str, target: Dict[str, Any], context: RequestContext, instance_id: str,
          timestamp: float, kind: str = "", subject: Any = None) -> Event:
    return Event({
        "id": new_id(),
        "timestamp": go_time(timestamp),
        "action": action,
        "target": target,
        "request": context.request,
        "actor": context.actor,
        "source": {"addr": context.source_addr, "instanceID": instance_id},
    }, kind, subject)


def content_target(media_type: str, digest: str, size: int, repository: str, url: str,
                   tag: Optional[str] = None, from_repository: Optional[str] = None,
                   references: Optional[Sequence[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """A blob or manifest target in the order registry 2.8 writes it (Descriptor: mediaType, size, digest)."""
    target: Dict[str, Any] = {"mediaType": media_type, "size": size, "digest": digest, "length": size,
                              "repository": repository}
    if from_repository:
        target["fromRepository"] = from_repository
    if url:
        target["url"] = url
    if tag:
        target["tag"] = tag
    if references:
        target["references"] = list(references)
    return target


def new_id() -> str:
    """A random (version 4) UUID as text, as distribution's `uuid.NewString()`; formatted here
    because `str(uuid.uuid4())` costs twice as much on every event."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


_last_second: List[Any] = [None, ""]  # [whole second, its formatted text]: events come in bursts


def go_time(timestamp: float) -> str:
    """Go's `time.Time` JSON form (RFC 3339 with nanoseconds, trailing zeros dropped), in UTC."""
    second = int(timestamp // 1)
    cached = _last_second
    if cached[0] != second:
        cached[1] = datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        cached[0] = second
    fraction = f"{min(round((timestamp - second) * 1e6), 999_999):06d}".rstrip("0")
    return f"{cached[1]}.{fraction}Z" if fraction else f"{cached[1]}Z"


def envelope(events: List[Event]) -> bytes:
    """The body of one notification POST, indented as `json.MarshalIndent(envelope, "", "   ")`."""
    return json.dumps({"events": [e.body for e in events]}, indent=3).encode()
