"""Built-in tag-history extension, modelled on Chainguard's registry (cgr.dev).

Source: "Using the Tag History API",
https://edu.chainguard.dev/chainguard/chainguard-images/features/using-the-tag-history-api/ :
`GET /v2/<name>/_chainguard/history/<tag>[?start=&end=]` answers
`{"history": [{"updateTimestamp": "2023-05-12T13:46:10.555Z", "digest": "sha256:..."}]}`, oldest
first, at most 1000 records; `start` and `end` are ISO 8601 times.

The records are real: the store appends (time, digest) each time a tag moves, with the registry's
clock. It also records a deletion, as digest ""; Chainguard's records always name a digest to pin,
so deletions are not listed (a later re-tag shows up as a new record).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Dict, Iterable, Optional

from ..errors import RegistryError
from ..http import Request
from .model import Extension

if TYPE_CHECKING:
    from ..registry import Registry

NAME = "_chainguard"
URL = "https://edu.chainguard.dev/chainguard/chainguard-images/features/using-the-tag-history-api/"
DESCRIPTION = "Tag history: the digests a tag pointed to, oldest first"
MAX_RECORDS = 1000

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MILLISECOND = timedelta(milliseconds=1)


def history_extension(repositories: Optional[Iterable[str]] = None) -> Extension:
    extension = Extension(NAME, URL, DESCRIPTION, repositories)
    extension.repository_endpoint("history", "{tag}", produces=("application/json",))(tag_history)
    return extension


def tag_history(request: Request, registry: Registry, name: str, tag: str) -> Dict[str, Any]:
    start, end = _bound(request, "start"), _bound(request, "end")
    store = registry.store
    with store.lock:
        repository = store.repositories.get(name)
        if repository is None:
            raise RegistryError("NAME_UNKNOWN", {"name": name})
        moves = sorted(repository.tag_history.get(tag, ()), key=lambda move: move[0])
    if not moves:
        raise RegistryError("MANIFEST_UNKNOWN", {"name": name, "reference": tag})
    records = []
    for timestamp, digest in moves:
        # Compared in whole milliseconds, the precision shown, so a shown time used as a bound
        # selects its own record.
        millis = int(timestamp * 1000)
        if not digest or (start is not None and millis < start) or (end is not None and millis > end):
            continue
        records.append({"updateTimestamp": _format(millis), "digest": digest})
        if len(records) == MAX_RECORDS:
            break
    return {"history": records}


def _format(millis: int) -> str:
    moment = _EPOCH + timedelta(milliseconds=millis)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{millis % 1000:03d}Z"


def _bound(request: Request, key: str) -> Optional[int]:
    """An ISO 8601 `start`/`end` parameter in milliseconds since the epoch (UTC unless it says)."""
    value = request.arg(key)
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise RegistryError("UNSUPPORTED", f"{key} must be an ISO 8601 time such as 2024-01-01T00:00:00Z, "
                            f"got {value!r}", status=400, message="invalid parameter") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // _MILLISECOND
