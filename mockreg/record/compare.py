"""Compare what a client met at recording time with what it meets at replay time.

Both sides become the same list of views, request by request: method, path (upload session
ids, token and storage URLs, which differ by nature, replaced by placeholders), status, error
code, and the headers that matter. The recorded side is a file's `recorded.exchanges`; the
replay side is another recording (a Recorder in front of the replaying server, so both are
seen by the same code) or a request journal (which has no error codes: those are then skipped).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Union

COMPARED_HEADERS = ("docker-content-digest", "oci-chunk-min-length", "www-authenticate", "ratelimit-limit")
_UPLOAD_ID = re.compile(r"(/blobs/uploads/)[^/?]+")
_REALM = re.compile(r'realm=(?:"[^"]*"|[^",\s]+)', re.IGNORECASE)


def recorded_exchanges(path: Union[str, Path]) -> List[Dict[str, Any]]:
    """The views of the exchanges a recorded scenario file lists."""
    import yaml

    document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return [view(entry) for entry in (document.get("recorded") or {}).get("exchanges") or []]


def replayed_exchanges(entries: Iterable[Any]) -> List[Dict[str, Any]]:
    """Views of request-journal entries (`mockreg.journal`); the control API is left out."""
    views = []
    for entry in entries:
        if (entry.kind or "").startswith("control"):
            continue
        headers = {k.lower(): v for k, v in entry.response_headers}
        args = {name: entry.arg(name) for name in ("digest", "mount", "from") if entry.arg(name)}
        scopes = entry.args.get("scope") or []
        if scopes:
            args["scope"] = " ".join(scopes)
        views.append(view({"method": entry.method, "path": entry.path, "kind": entry.kind, "args": args,
                           "status": entry.status, "headers": headers}))
    return views


def view(entry: Dict[str, Any]) -> Dict[str, Any]:
    kind = entry.get("kind")
    path = entry["path"]
    if kind == "token":
        path = "<token>"
    elif kind and kind.startswith("storage-blob"):
        path = "<storage>/" + path.split("/", 2)[-1] if path.startswith("/_storage/") else path
    headers = {k.lower(): v for k, v in (entry.get("headers") or {}).items()}
    shown = {}
    for name in COMPARED_HEADERS:
        if name in headers:
            value = headers[name]
            shown[name] = _REALM.sub('realm="<realm>"', value) if name == "www-authenticate" else value
    if "location" in headers:
        shown["location"] = "present"
    args = entry.get("args") or {}
    query = "&".join(f"{k}={args[k]}" for k in ("digest", "mount", "from", "scope") if args.get(k))
    path = _UPLOAD_ID.sub(r"\1<session>", path) + (f"?{query}" if query else "")
    return {"method": entry["method"], "path": path, "status": entry["status"],
            "code": entry.get("code"), "headers": shown}


def differences(recorded: List[Dict[str, Any]], replayed: List[Dict[str, Any]]) -> List[str]:
    """One line per request whose view differs (an error code counts where both sides have one).

    Requests are paired by method and path, in order: the n-th `HEAD /v2/a/blobs/X` recorded
    with the n-th replayed. Clients fetch layers in parallel, so the interleaving of different
    paths may change between runs; the answers to each request may not. Repeated reads with
    the same answer count once (see `_by_request`)."""
    found = []
    want = _by_request(recorded)
    got = _by_request(replayed)
    for key in list(want) + [k for k in got if k not in want]:
        ours, theirs = want.get(key, []), got.get(key, [])
        for position in range(max(len(ours), len(theirs))):
            a = ours[position] if position < len(ours) else None
            b = theirs[position] if position < len(theirs) else None
            if a is None or b is None or not _same(a, b):
                found.append(f"{key[0]} {key[1]} #{position + 1}: recorded {_line(a)}, replayed {_line(b)}")
    return found


def _by_request(views: List[Dict[str, Any]]) -> Dict[Any, List[Dict[str, Any]]]:
    """Views grouped by method and path. How often a client repeats a read depends on how its
    parallel requests interleave (skopeo may check a blob twice), so a GET or HEAD answered
    exactly as the one before it counts once, and token requests once per scope and answer;
    a read whose answer changed (404, then 200 after the upload) still counts each time."""
    grouped: Dict[Any, List[Dict[str, Any]]] = {}
    for item in views:
        group = grouped.setdefault((item["method"], item["path"]), [])
        if item["path"].startswith("<token>") and item in group:
            continue
        if item["method"] in ("GET", "HEAD") and group and group[-1] == item:
            continue
        group.append(item)
    return grouped


def _same(a: Dict[str, Any], b: Dict[str, Any]) -> bool:
    codes = a["code"] is None or b["code"] is None or a["code"] == b["code"]
    return bool(codes and a["status"] == b["status"] and a["headers"] == b["headers"])


def _line(entry: Optional[Dict[str, Any]]) -> str:
    if entry is None:
        return "nothing"
    code = f" {entry['code']}" if entry.get("code") else ""
    return f"{entry['method']} {entry['path']} → {entry['status']}{code} {entry['headers']}"
