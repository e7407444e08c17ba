"""The spec's error codes and the one exception every handler raises to report them."""

from __future__ import annotations

import json
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
        super().__init__(f"{self.status} {code}: {self.message}" + (f" ({detail})" if detail else ""))

    def body(self) -> bytes:
        error = {"code": self.code, "message": self.message}
        if self.detail is not None:
            error["detail"] = self.detail
        return json.dumps({"errors": [error]}).encode()
