"""Random requests for fuzzing a registry in process, and the rules every answer must follow.

A request is built from parts that real clients get nearly right: route shapes with near-miss
names, digests and references, the headers the spec gives meaning to (`Range`,
`Content-Range`, `Content-Type`, `Accept`, `Authorization`, `If-Match`) with malformed values,
query parameters with hostile numbers, and bodies from empty to almost-valid manifests. Used
by tests/test_fuzz_stateful.py and benchmarks/fuzz_long.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hypothesis import strategies as st
from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Request as WerkzeugRequest

from mockreg import Registry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SPEC_ERROR_CODES = frozenset({
    "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID",
    "NAME_UNKNOWN", "SIZE_INVALID", "UNAUTHORIZED", "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS",
})
# distribution-spec extensions/README.md adds one code for extension routes.
ALLOWED_CODES = SPEC_ERROR_CODES | {"EXTENSION_UNKNOWN"}
INJECTED = "injected fault"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


KNOWN_DATA = b"known blob"
KNOWN = sha256(KNOWN_DATA)
DIGESTS = [
    KNOWN, sha256(b"nothing"), "sha512:" + "a" * 128, "sha256:" + "A" * 64, "sha256:abc", "sha256:",
    ":" + "a" * 64, "md5:" + "a" * 32, "sha256:" + "g" * 64, "sha256:../../etc", "sha256:" + "a" * 65,
    "sha256%3A" + "a" * 64, "SHA256:" + "a" * 64,
]
TAGS = ["latest", "v1", "_under", "-lead", ".dot", "a" * 128, "a" * 129, "ta*g", "ünï", "x" * 4000]
AUTHORIZATION = [
    "", "Basic", "Basic ", "Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode(),
    "Basic " + base64.b64encode(b"bob:wrong").decode(), "Basic " + base64.b64encode(b"bob:secret").decode(),
    "Basic " + base64.b64encode("é:ü".encode()).decode(), "Basic \xe9\xe9",
    "Basic " + base64.b64encode(b"\xff:\xfe").decode(),
    "Bearer", "Bearer ", "Bearer a.b.c", "Bearer ....", "Bearer \xe9.\xe9.\xe9", "Bearer " + "x" * 5000,
    "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.", "Digest username=x", "bearer  spaced", "Negotiate abc",
]
RANGES = ["", "bytes=0-3", "bytes=-0", "bytes=5-2", "bytes=0-" + "9" * 5000, "bytes=-" + "9" * 30, "bytes=x-y",
          "bytes=0-1,3-4", "items=0-1", "bytes=\u0661-\u0662", "bytes=99999-", "bytes=--1"]
CONTENT_RANGES = ["", "0-3", "0-0", "bytes 0-3/4", "bytes=0-3", "5-2", "4-9", "0-" + "9" * 5000, "x", "*/*",
                  "-1-2", "0-3/*", "\u0660-\u0661"]
CONTENT_TYPES = ["", OCI_MANIFEST, OCI_INDEX, "application/vnd.docker.distribution.manifest.v2+json",
                 "application/vnd.docker.distribution.manifest.v1+prettyjws", "application/json",
                 "text/plain; charset=utf-8", OCI_MANIFEST + "; charset=utf-8", "application/octet-stream", "*/*;;"]
ACCEPTS = ["", "*/*", OCI_MANIFEST, f"{OCI_INDEX};q=0.5, {OCI_MANIFEST}", "application/json;q=0", "text/html",
           "application/*;q=abc", ",,,", "application/vnd.mockreg.fuzz.v2+json"]
QUERY_KEYS = ["digest", "mount", "from", "n", "last", "tag", "artifactType", "digest-algorithm", "q", "scope",
              "service", "expires", "x"]
QUERY_VALUES = ["", KNOWN, "sha256:zz", "m/a", "fz/x", "Bad", "-1", "0", "3", "²", "9" * 5000, "1e3", "latest",
                "sha512", "md5", "repository:fz/x:pull,push", "mockreg", "\x00", "%ff"]
NAMES = ["fz/x", "fz/y", "m/a", "Bad/Name", "a//b", "-x", "a" * 256, "fz/x/blobs/uploads", "_oci", "fz/_x"]
MUTABLE_NAMES = ["fz/x", "fz/y", "Bad/Name", "a//b", "-x", "a" * 256, "fz/x/blobs/uploads", "fz/_x"]
BODIES = [b"", KNOWN_DATA, b"{", b"{}", b"[]", b"null", b"\xff\xfe", b"x" * 70_000,
          json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {
              "mediaType": "application/vnd.oci.image.config.v1+json", "digest": KNOWN, "size": len(KNOWN_DATA)},
              "layers": []}).encode(),
          json.dumps({"schemaVersion": 2,
                      "manifests": [{"mediaType": OCI_MANIFEST, "digest": KNOWN, "size": 1}]}).encode(),
          json.dumps({"schemaVersion": 2, "config": {"mediaType": 1, "digest": "x", "size": -1}}).encode(),
          json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {}, "layers": [None],
                      "subject": "x", "annotations": {"a": 1}}).encode(),
          b"grant_type=password&username=bob&password=secret&scope=repository:fz/x:pull",
          b"grant_type=refresh_token&refresh_token=a.b.c", b'{"advance": 1e999}', b'{"freeze": NaN}',
          b'{"limit": -1}', b'{"status": 500, "kinds": ["base"]}', b'{"manifest_size_limit": 1e999}']

ROUTES = [
    "/v2/", "/v2", "/v2/_catalog", "/v2/{name}/tags/list", "/v2/{name}/manifests/{reference}",
    "/v2/{name}/blobs/{digest}", "/v2/{name}/blobs/uploads/", "/v2/{name}/blobs/uploads/{session}",
    "/v2/{name}/referrers/{digest}", "/v2/_oci/ext/discover", "/v2/{name}/_oci/ext/discover",
    "/v2/_oci/ext/search", "/v2/{name}/_oci/ext/history", "/v2/_fuzz/echo/{tag}", "/v2/{name}/_fuzz/echo/{tag}",
    "/v2/_bad!/x/y", "/v2/_/a/b", "/v2/{name}/_unknown/a/b", "/token", "/_mockreg/", "/_mockreg/settings",
    "/_mockreg/faults/{tag}", "/_mockreg/rate-limits", "/_mockreg/clock", "/_mockreg/journal", "/_mockreg/reset",
    "/_storage/{name}/blobs/{digest}", "/{tag}", "//v2//{name}//tags//list",
    "/v2/{name}/blobs/uploads/{session}&digest={digest}",
]
# Reads that a holder of bob's tokens (bearer_tokens) may be granted.
READ_PATHS = ["/v2/", "/v2/_catalog", f"/v2/m/a/blobs/{KNOWN}", "/v2/m/a/tags/list", "/v2/_oci/ext/discover",
              "/v2/_fuzz/echo/latest", "/v2/fz/x/tags/list"]
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class FuzzRequest:
    method: str
    path: str
    query: List[Tuple[str, str]]
    headers: Dict[str, str]
    body: bytes

    def __str__(self) -> str:
        shown = {k: (v[:60] + "…" if len(v) > 60 else v) for k, v in self.headers.items()}
        return f"{self.method} {self.path[:200]} {self.query} {shown} body={self.body[:60]!r}"


@st.composite
def fuzz_requests(draw: Any, sessions: Sequence[str] = (), authorizations: Sequence[str] = ()) -> FuzzRequest:
    """A random request; it may change state only in repositories outside the model (`fz/...`)
    and through routes that need credentials the fuzzer never has (control API). `sessions`
    are upload ids to aim at, `authorizations` valid header values to mix in with broken ones."""
    method = draw(st.sampled_from(["GET", "HEAD", "GET", "PUT", "POST", "PATCH", "DELETE", "OPTIONS", "TRACE"]))
    template = draw(st.sampled_from(ROUTES))
    names = MUTABLE_NAMES if method in MUTATING else NAMES
    session = draw(st.sampled_from(list(sessions) + ["0123abcd", "", "..", "%2e%2e", "a" * 300]))
    path = template.format(name=draw(st.sampled_from(names)), reference=draw(st.sampled_from(TAGS + DIGESTS)),
                           digest=draw(st.sampled_from(DIGESTS)), session=session, tag=draw(st.sampled_from(TAGS)))
    query = draw(st.lists(st.tuples(st.sampled_from(QUERY_KEYS), st.sampled_from(QUERY_VALUES)), max_size=3))
    headers = draw(st.fixed_dictionaries({}, optional={
        "Range": st.sampled_from(RANGES), "Content-Range": st.sampled_from(CONTENT_RANGES),
        "Content-Type": st.sampled_from(CONTENT_TYPES), "Accept": st.sampled_from(ACCEPTS),
        "Authorization": st.sampled_from(AUTHORIZATION), "If-Match": st.sampled_from(['"x"', "*", "W/\"y\""]),
        "If-None-Match": st.sampled_from(['"x"', "*"]),
    }))
    # With valid credentials at hand, every other request is a read that carries one (hostile
    # query and headers otherwise). Left to chance among 20 broken credentials and 30 routes, so
    # few requests got through that whether any did depended on the hypothesis version: the
    # success paths must meet hostile input too.
    if authorizations and draw(st.booleans()):
        headers["Authorization"] = draw(st.sampled_from(authorizations))
        method = draw(st.sampled_from(["GET", "HEAD"]))
        path = draw(st.sampled_from(READ_PATHS))
    body = draw(st.sampled_from(BODIES))
    return FuzzRequest(method, path, query, headers, body)


def send(client: Client, request: FuzzRequest) -> Any:
    """Send a FuzzRequest through the WSGI app, the path handed over raw as a server would."""
    environ = EnvironBuilder(method=request.method, query_string=request.query, headers=request.headers,
                             data=request.body).get_environ()
    environ["PATH_INFO"] = request.path
    return client.open(WerkzeugRequest(environ))


MANIFEST_TYPES = frozenset({OCI_MANIFEST, OCI_INDEX, "application/vnd.docker.distribution.manifest.v2+json",
                            "application/vnd.docker.distribution.manifest.list.v2+json"})


def accepted_invalid_manifest(request: FuzzRequest, status: int) -> Optional[str]:
    """A manifest PUT answered 2xx although the spec forbids the manifest: not a JSON object with
    schemaVersion 2, or pushed with a Content-Type that is not a manifest type or not its mediaType
    (distribution-spec "Pushing Manifests"; parameters are ignored, as the registry SHOULD)."""
    if request.method != "PUT" or "/manifests/" not in request.path or not 200 <= status < 300:
        return None
    document = _json(request.body)
    if not isinstance(document, dict) or document.get("schemaVersion") != 2:
        return f"accepted a manifest that is not a schemaVersion 2 JSON object: {request}"
    content_type = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    declared = document.get("mediaType")
    if content_type not in MANIFEST_TYPES or (declared is not None and declared != content_type):
        return f"accepted a manifest pushed as {content_type!r} with mediaType {declared!r}: {request}"
    return None


def answer_problems(registry: Registry, request: FuzzRequest, response: Any) -> List[str]:
    """How an answer breaks the rules: a 500 nobody asked for, an error body that is not the
    spec's JSON or uses a code outside the spec's list (plus EXTENSION_UNKNOWN), a manifest the
    spec forbids accepted (when the registry checks Content-Type, as it does by default)."""
    status = response.status_code
    problems: List[str] = []
    if registry.settings.manifest_content_type_check:
        accepted = accepted_invalid_manifest(request, status)
        if accepted is not None:
            problems.append(accepted)
    if registry.server_errors:
        problems.append(f"server error {registry.server_errors[-1]!r} for {request}")
        registry.server_errors.clear()
    if status < 400 or request.method == "HEAD":
        if status >= 500:
            problems.append(f"{status} for {request}")
        return problems
    if request.path == "/token" and request.method == "POST" and status == 400:
        # RFC 6749 section 5.2: OAuth2 token errors have their own body, {"error": ...}.
        body = _json(response.data)
        if not (isinstance(body, dict) and isinstance(body.get("error"), str)):
            problems.append(f"OAuth2 error body expected for {request}: {response.data[:200]!r}")
        return problems
    body = _json(response.data)
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors or response.headers.get("Content-Type") != "application/json":
        return problems + [f"{status} without the spec's error JSON for {request}: {response.data[:200]!r}"]
    injected = all(isinstance(e, dict) and e.get("detail") == INJECTED for e in errors)
    if status >= 500 and not injected:
        problems.append(f"{status} for {request}: {response.data[:300]!r}")
    for error in errors:
        code = error.get("code") if isinstance(error, dict) else None
        if code not in ALLOWED_CODES and not injected:
            problems.append(f"error code {code!r} is not in the spec's list, for {request}")
        if not isinstance(error, dict) or not isinstance(error.get("message", ""), str):
            problems.append(f"error without a text message for {request}")
    return problems


def _json(data: bytes) -> Optional[Any]:
    try:
        return json.loads(data)
    except ValueError:
        return None


def install_fuzz_extension(registry: Registry) -> None:
    """An extension with endpoints at both levels, and the built-in ones, for the fuzzer to hit."""
    extension = registry.add_extension("_fuzz", url="https://mockreg.test/fuzz", description="fuzz target")

    @extension.registry_endpoint("echo", "{word}", methods=("GET", "POST"), produces=("application/json",))
    def echo(request: Any, registry: Registry, word: str) -> Dict[str, Any]:
        return {"word": word}

    @extension.repository_endpoint("echo", "{word}")
    def echo_repository(request: Any, registry: Registry, name: str, word: str) -> Dict[str, Any]:
        return {"name": name, "word": word}

    registry.extensions.enable("search")
    registry.extensions.enable("history")


def bearer_tokens(registry: Registry) -> List[str]:
    """Authorization values with valid tokens for user bob (no admin), as the token endpoint
    would grant them, for registries with bearer auth."""
    auth = registry.auth
    if auth is None or auth.config.scheme != "bearer":
        return []
    scopes = [["repository:fz/x:pull,push,delete", "repository:fz/y:pull,push"], ["repository:m/a:pull"],
              ["registry:catalog:*"], []]
    return ["Bearer " + auth.issue_token("bob", wanted) for wanted in scopes]
