"""Rules about what a client sends when it pushes: manifest Content-Type, and blob uploads
(the session URL, chunk order and size, the closing digest, the digest of what arrived)."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit

from .. import manifests
from .model import DIST_SPEC, MUST, SHOULD, Exchange, Finding, Rule

_MANIFEST_PUT = frozenset({"manifest-put"})
_UPLOADS = frozenset({"blob-upload-start", "blob-upload-patch", "blob-upload-put", "blob-upload-status",
                      "blob-upload-cancel"})
_RANGE = re.compile(r"^([0-9]+)-([0-9]+)$")


def media_type(value: Optional[str]) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def _declared_type(exchange: Exchange) -> Optional[str]:
    body = exchange.json
    value = body.get("mediaType") if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def _is_manifest_put(exchange: Exchange) -> bool:
    return exchange.entry.kind == "manifest-put"


# -- manifests ---------------------------------------------------------------------------------
def content_type_matches(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    if not _is_manifest_put(exchange):
        return []
    declared = _declared_type(exchange)
    sent = exchange.request_header("Content-Type")
    if declared is None or media_type(sent) == declared.lower():
        return []
    return [(f"Content-Type {sent!r} differs from the manifest's mediaType {declared!r}", [exchange])]


def content_type_without_parameters(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    sent = exchange.request_header("Content-Type")
    if not _is_manifest_put(exchange) or sent is None or ";" not in sent:
        return []
    return [(f"Content-Type {sent!r} carries parameters", [exchange])]


def content_type_set(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    if not _is_manifest_put(exchange):
        return []
    sent = media_type(exchange.request_header("Content-Type"))
    if not sent:
        return [("the manifest was pushed without a Content-Type", [exchange])]
    if _declared_type(exchange) is None and sent not in manifests.MANIFEST_TYPES | _ARTIFACT_TYPES:
        return [(f"Content-Type {sent!r} is not a manifest type and the manifest names no mediaType", [exchange])]
    return []


_ARTIFACT_TYPES = frozenset({"application/vnd.oci.artifact.manifest.v1+json"})


# -- uploads: one state per upload session, keyed by the session id in its URL -----------------------
def _session_key(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _location_target(location: str) -> Tuple[str, List[Tuple[str, str]]]:
    parts = urlsplit(location)
    return parts.path, parse_qsl(parts.query, keep_blank_values=True)


def _upload(exchange: Exchange, state: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The session this request continues (None for other requests); a POST answered 202 opens one."""
    entry = exchange.entry
    if entry.kind == "blob-upload-start" and entry.status == 202:
        location = entry.header("Location") or ""
        path, _ = _location_target(location)
        session: Dict[str, Any] = {"location": location, "end": -1, "chunks": [], "opened": exchange,
                                   "min": entry.header("OCI-Chunk-Min-Length"),
                                   "algorithm": entry.arg("digest-algorithm")}
        state.setdefault("sessions", {})[_session_key(path)] = session
        return None
    if entry.kind not in ("blob-upload-patch", "blob-upload-put", "blob-upload-status", "blob-upload-cancel"):
        return None
    sessions = state.setdefault("sessions", {})
    if entry.kind in ("blob-upload-put", "blob-upload-cancel") and entry.status < 300:
        return sessions.pop(_session_key(entry.path), None)  # closed: judged one last time, then forgotten
    return sessions.get(_session_key(entry.path))


def _after(exchange: Exchange, session: Dict[str, Any]) -> None:
    """Remember where the registry sends the client next and what it has received."""
    entry = exchange.entry
    location = entry.header("Location")
    if location and entry.kind != "blob-upload-put":
        session["location"] = location
    given = entry.header("Range")
    if given and entry.status in (202, 204):
        found = re.match(r"^(?:bytes=)?0-([0-9]+)$", given)
        session["end"] = int(found.group(1)) if found else session["end"]


def location_as_given(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    session = _upload(exchange, state)
    if session is None:
        return []
    path, query = _location_target(session["location"])
    entry = exchange.entry
    sent = parse_qsl(entry.query, keep_blank_values=True)
    findings: List[Finding] = []
    if entry.path != path or any(pair not in sent for pair in query):
        target = entry.path + (f"?{entry.query}" if entry.query else "")
        findings.append((f"sent to {target} instead of the Location the registry gave: {session['location']}",
                         [session.get("last", session["opened"]), exchange]))
    session["last"] = exchange
    _after(exchange, session)
    return findings


def chunks_in_order(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    session = _upload(exchange, state)
    entry = exchange.entry
    if session is None:
        return []
    findings: List[Finding] = []
    declared = entry.request_headers.get("Content-Range")
    if entry.kind in ("blob-upload-patch", "blob-upload-put") and declared is not None:
        found = _RANGE.match(declared.strip())
        length = exchange.request_header("Content-Length")
        if found is None:
            findings.append((f"Content-Range {declared!r} does not match ^[0-9]+-[0-9]+$", [exchange]))
        elif int(found.group(1)) != session["end"] + 1:
            held = f"bytes 0-{session['end']}" if session["end"] >= 0 else "nothing yet"
            findings.append((f"chunk starts at {found.group(1)}; the registry holds {held}, so the next chunk "
                             f"starts at {session['end'] + 1}", [exchange]))
        elif length is not None and length.isdigit() and int(length) != int(found.group(2)) - int(found.group(1)) + 1:
            findings.append((f"Content-Range {declared} covers {int(found.group(2)) - int(found.group(1)) + 1} "
                             f"bytes but Content-Length is {length}", [exchange]))
    _after(exchange, session)
    return findings


def chunk_min_length(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    session = _upload(exchange, state)
    entry = exchange.entry
    if session is None or not session["min"] or not str(session["min"]).isdigit():
        return []
    findings: List[Finding] = []
    if entry.kind in ("blob-upload-patch", "blob-upload-put"):
        # A chunk proves not to be the final one when another chunk follows it.
        previous = session["chunks"][-1] if session["chunks"] else None
        if previous is not None and previous.entry.request_bytes < int(session["min"]) and (
                entry.kind == "blob-upload-patch" or entry.request_bytes):
            findings.append((f"a chunk of {previous.entry.request_bytes} bytes, not the last one, is below "
                             f"OCI-Chunk-Min-Length {session['min']}", [session["opened"], previous]))
        if entry.kind == "blob-upload-patch" and entry.ok:
            session["chunks"].append(exchange)
    return findings


def closing_put_has_digest(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    entry = exchange.entry
    if entry.kind == "blob-upload-put" and entry.arg("digest") is None:
        return [("the closing PUT has no ?digest= query parameter", [exchange])]
    return []


def uploaded_digest_matches(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    entry = exchange.entry
    if entry.kind in ("blob-upload-start", "blob-upload-put", "manifest-put") and entry.status == 400 \
            and exchange.error_code == "DIGEST_INVALID" and (entry.arg("digest") or entry.kind == "manifest-put"):
        claimed = entry.arg("digest") or entry.reference
        return [(f"the content sent does not have the digest it claimed ({claimed})", [exchange])]
    return []


def digest_algorithm_named(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    session = _upload(exchange, state)
    entry = exchange.entry
    claimed = entry.arg("digest") or ""
    if session is None or entry.kind != "blob-upload-put" or ":" not in claimed:
        return []
    algorithm = claimed.split(":", 1)[0]
    if algorithm != "sha256" and session["algorithm"] != algorithm:
        return [(f"the upload closes with a {algorithm} digest but its POST did not say "
                 f"digest-algorithm={algorithm}", [session["opened"], exchange])]
    return []


def chunked_post_has_zero_length(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    entry = exchange.entry
    if entry.status != 202 or entry.arg("digest") is not None or entry.arg("mount") is not None:
        return []
    if exchange.request_header("Content-Length") is None:
        return [("the POST opening an upload session sent no Content-Length header", [exchange])]
    return []


def uploads_closed(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    _upload(exchange, state)  # opens and forgets sessions; what is left at the end was never closed
    return []


def uploads_left_open(state: Dict[str, Any]) -> List[Finding]:
    return [(f"upload {key} was opened and neither closed with PUT nor cancelled with DELETE", [session["opened"]])
            for key, session in state.get("sessions", {}).items()]


RULES = [
    Rule("OCI-C001", "manifest-content-type-matches-media-type", MUST,
         "If a manifest includes a `mediaType` field, clients MUST set the `Content-Type` header to the value "
         "specified by the `mediaType` field.", DIST_SPEC + "#pushing-manifests",
         "Registries choose how to parse and serve a manifest by the type it was pushed with: the reference "
         "registry hands the request's Content-Type to `distribution.UnmarshalManifest` (registry/handlers/"
         "manifests.go), so `application/json` for an OCI manifest is parsed as something else and refused, "
         "while registries that do not compare store it. Judged on every manifest PUT, accepted (201) or "
         "refused (400).", content_type_matches, kinds=_MANIFEST_PUT,
         refused_by="400 MANIFEST_INVALID when `manifest_content_type_check` is on (issue 17)"),
    Rule("OCI-C002", "manifest-content-type-without-parameters", SHOULD,
         "The client SHOULD NOT include parameters on the `Content-Type` header (see [RFC 7231 (section "
         "3.1.1.1)](https://www.rfc-editor.org/rfc/rfc7231#section-3.1.1.1)).",
         DIST_SPEC + "#pushing-manifests",
         "Registries compare the pushed Content-Type with the manifest's type as strings; a `; charset=utf-8` "
         "suffix makes the comparison fail on some of them and is stored and served back on others.",
         content_type_without_parameters, kinds=_MANIFEST_PUT),
    Rule("OCI-C003", "manifest-content-type-set", SHOULD,
         "Clients SHOULD set the `Content-Type` header to the type of the manifest being pushed.",
         DIST_SPEC + "#pushing-manifests",
         "A manifest without a `mediaType` field can only be told apart by the Content-Type it was pushed "
         "with; without one (or with a generic type) the registry has to guess, and registries guess "
         "differently.", content_type_set, kinds=_MANIFEST_PUT),
    Rule("OCI-C006", "upload-location-used-as-given", SHOULD,
         "It SHOULD NOT be assembled manually by clients except where absolute/relative conversion is necessary.",
         DIST_SPEC + "#post-then-put",
         "The `<blob-push-location>` MAY contain critical query parameters (state tokens, signatures). A client "
         "must send the next PATCH, PUT or GET to the latest `Location` the registry answered, absolute or "
         "relative, with its query kept (adding `digest=` to the closing PUT is expected). Rebuilding the URL "
         "from the repository name and session id fails on registries that keep state in the query (the "
         "reference registry's `_state`); turn on the setting `upload_location_state` to make mockreg's "
         "Locations carry one, so that such a client shows.", location_as_given, scope="upload", kinds=_UPLOADS,
         settings={"upload_location_state": True}),
    Rule("OCI-C007", "chunks-in-order", MUST,
         "Chunks MUST be uploaded in order, with the first byte of a chunk being the last chunk's "
         "`<end-of-range>` plus one.", DIST_SPEC + "#pushing-a-blob-in-chunks",
         "A chunk's `Content-Range` must match `^[0-9]+-[0-9]+$`, start where the registry's last `Range` "
         "answer ended (0 for the first chunk) and cover exactly `Content-Length` bytes. A PATCH without "
         "Content-Range is a streamed upload (a de-facto method docker, containerd and skopeo use) and is "
         "not judged.", chunks_in_order, scope="upload", kinds=_UPLOADS,
         refused_by="416 (out of order), 400 SIZE_INVALID or BLOB_UPLOAD_INVALID"),
    Rule("OCI-C008", "chunk-min-length-honoured", SHOULD,
         "If the registry provides an `OCI-Chunk-Min-Length` header in the `POST` response, the size of each "
         "chunk, except for the final chunk, SHOULD be greater or equal to that value.",
         DIST_SPEC + "#pushing-a-blob-in-chunks",
         "A registry announces a minimum chunk size when its storage needs one (object stores with a minimum "
         "multipart part size); smaller chunks are refused or slow there. A chunk is judged once another "
         "chunk follows it.",
         chunk_min_length, scope="upload", kinds=_UPLOADS, settings={"chunk_min_length": 4}),
    Rule("OCI-C009", "closing-put-has-digest", MUST,
         "The closing `PUT` request MUST include the `<digest>` of the whole blob (not the final chunk) as a "
         "query parameter.", DIST_SPEC + "#pushing-a-blob-in-chunks",
         "Without the digest the registry cannot verify or address the blob.", closing_put_has_digest,
         kinds=frozenset({"blob-upload-put"}),
         refused_by="400 DIGEST_INVALID"),
    Rule("OCI-C010", "uploaded-digest-matches", MUST,
         "Likewise, the `<digest>` MUST match the blob's digest.", DIST_SPEC + "#single-post",
         "The digest a client claims for a blob (or a manifest pushed by digest) must be the digest of the "
         "bytes it sends; a mismatch means the client hashed something else (a compressed vs uncompressed "
         "stream, a re-serialised manifest).", uploaded_digest_matches,
         refused_by="400 DIGEST_INVALID", kinds=frozenset({"blob-upload-start", "blob-upload-put", "manifest-put"})),
    Rule("OCI-C011", "digest-algorithm-announced", SHOULD,
         "When pushing a blob with a digest algorithm other than `sha256`, the post request SHOULD include the "
         "`digest-algorithm` parameter:", DIST_SPEC + "#pushing-a-blob-in-chunks",
         "A registry hashes bytes while they arrive; it can only use the right algorithm if the POST names it.",
         digest_algorithm_named, scope="upload", kinds=_UPLOADS),
    Rule("OCI-C022", "session-post-content-length-zero", MUST,
         "The process remains unchanged for chunked upload, except that the post request MUST include the "
         "following header:", DIST_SPEC + "#pushing-a-blob-in-chunks",
         "The header is `Content-Length: 0`. HTTP/1.1 reads a request without Content-Length or "
         "Transfer-Encoding as bodiless (RFC 9112 section 6.3), so most servers accept it; the spec asks for the "
         "explicit header anyway, and servers that need a length for POST answer 411 without it. Judged on POSTs "
         "that open an upload session (no `digest`, no `mount`).",
         chunked_post_has_zero_length, kinds=frozenset({"blob-upload-start"}),
         refused_by="accepted, as HTTP/1.1 servers do (RFC 9112 section 6.3: no length, no body)"),
    Rule("OCI-C020", "upload-closed-or-cancelled", SHOULD,
         "Clients SHOULD send this request when aborting a blob upload, releasing server resources.",
         DIST_SPEC + "#cancel-a-blob-upload",
         "An upload session that is neither closed with PUT (\"the session MUST be closed with a `PUT` "
         "request\") nor cancelled with DELETE holds registry resources until it times out; this includes a "
         "monolithic POST answered 202, after which \"clients SHOULD proceed with a subsequent PUT request\". "
         "Judged at the end of the run (test, server shutdown or `violations()`).",
         uploads_closed, finish=uploads_left_open, scope="upload", kinds=_UPLOADS),
]
