"""The spec's error codes and the one exception every handler raises to report them."""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any, Iterable, List, Optional, Tuple

# code -> (default HTTP status, message), from the spec's "Error Codes" table,
# plus EXTENSION_UNKNOWN from extensions/README.md.
ERROR_CODES = {
    "BLOB_UNKNOWN": (404, "blob unknown to registry"),
    "BLOB_UPLOAD_INVALID": (400, "blob upload invalid"),
    "BLOB_UPLOAD_UNKNOWN": (404, "blob upload unknown to registry"),
    "DIGEST_INVALID": (400, "provided digest did not match uploaded content"),
    "MANIFEST_BLOB_UNKNOWN": (400, "manifest references a manifest or blob unknown to registry"),
    "MANIFEST_INVALID": (400, "manifest invalid"),
    "MANIFEST_UNKNOWN": (404, "manifest unknown to registry"),
    "NAME_INVALID": (400, "invalid repository name"),
    "NAME_UNKNOWN": (404, "repository name not known to registry"),
    "SIZE_INVALID": (400, "provided length did not match content length"),
    "UNAUTHORIZED": (401, "authentication required"),
    "DENIED": (403, "requested access to the resource is denied"),
    "UNSUPPORTED": (405, "the operation is unsupported"),
    "TOOMANYREQUESTS": (429, "too many requests"),
    "EXTENSION_UNKNOWN": (404, "extension unknown to registry"),
}

Headers = List[Tuple[str, str]]


class RegistryError(Exception):
    """An error the registry answers with: an HTTP status and the spec's JSON body.

    Handlers raise it; one place (`response`) renders it, so every error looks alike. `reason`
    names the condition when a switch (docs/registry.md) refused the request, e.g.
    "repository-missing", so error rules can answer it the way a real registry does.
    """

    def __init__(
        self,
        code: str,
        detail: Any = None,
        *,
        status: Optional[int] = None,
        message: Optional[str] = None,
        headers: Iterable[Tuple[str, str]] = (),
        reason: Optional[str] = None,
    ) -> None:
        default_status, default_message = ERROR_CODES[code]
        self.code = code
        self.status = status or default_status
        self.message = message or default_message
        self.detail = detail
        self.headers: Headers = list(headers)
        self.reason = reason
        super().__init__(code)

    def __str__(self) -> str:
        # Formatted when shown, not when raised: most are only ever rendered as a JSON body.
        detail = self.detail
        return f"{self.status} {self.code}: {self.message}" + (f" ({detail})" if detail else "")

    def body(self) -> bytes:
        """The spec's error body, exactly as `json.dumps({"errors": [error]})` writes it."""
        head = f'{{"errors": [{{"code": {encode_basestring_ascii(self.code)}, ' \
               f'"message": {encode_basestring_ascii(self.message)}'
        detail = self.detail
        if detail is None:
            return f"{head}}}]}}".encode()
        return f'{head}, "detail": {_json(detail)}}}]}}'.encode()


def _json(value: Any) -> str:
    """`json.dumps(value)`; a string or a flat map of strings (the usual details) written
    directly, since json.dumps builds a new encoder on every call: that was a fifth of the cost
    of answering a HEAD for a missing blob."""
    if isinstance(value, str):
        return encode_basestring_ascii(value)
    if isinstance(value, dict) and all(type(k) is str and type(v) is str for k, v in value.items()):
        return "{" + ", ".join(f"{encode_basestring_ascii(k)}: {encode_basestring_ascii(v)}"
                               for k, v in value.items()) + "}"
    return json.dumps(value)
