"""Extensions API (distribution-spec extensions/README.md, _oci.md): discover at both levels, user
extensions, routing and its errors, Accept negotiation. Every HTTP case runs in-process (werkzeug
test client) and over a live socket (`LiveServer`)."""

from __future__ import annotations

import http.client
import json
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional

import pytest
from werkzeug.test import Client

from mockreg import Registry
from mockreg.http import Response
from mockreg.layers import Layer
from mockreg.server import LiveServer

SEGMENT = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


# -- a uniform HTTP view of the registry, in-process or live --------------------------------
@dataclass
class Reply:
    status: int
    headers: Dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def error(self, status: int, code: str) -> Dict[str, Any]:
        """Assert the spec's error body (spec.md "Error Codes") and return its first error."""
        assert self.status == status, (self.status, self.body)
        assert self.headers["content-type"] == "application/json"
        errors = self.json()["errors"]
        assert errors[0]["code"] == code, errors
        assert isinstance(errors[0]["message"], str) and errors[0]["message"]
        return errors[0]


class InProcess:
    def __init__(self, registry: Registry) -> None:
        self.client = Client(registry)

    def request(self, method: str, path: str, headers: Optional[Dict[str, str]] = None, body: bytes = b"") -> Reply:
        response = self.client.open(path, method=method, headers=headers or {}, data=body)
        return Reply(response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.data)


class Live:
    def __init__(self, server: LiveServer) -> None:
        self.server = server

    def request(self, method: str, path: str, headers: Optional[Dict[str, str]] = None, body: bytes = b"") -> Reply:
        connection = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
        try:
            connection.request(method, path, body=body or None, headers=headers or {})
            response = connection.getresponse()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()


@pytest.fixture(scope="module")
def live_server() -> Iterator[LiveServer]:
    with LiveServer(Registry()) as server:
        yield server


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture(params=["in-process", "live"])
def web(request: Any, registry: Registry) -> Any:
    if request.param == "in-process":
        return InProcess(registry)
    server = request.getfixturevalue("live_server")
    server.app = registry
    return Live(server)


def get(web: Any, path: str, **headers: str) -> Reply:
    return web.request("GET", path, {k.replace("_", "-"): v for k, v in headers.items()})


def check_discover(reply: Reply) -> Dict[str, Dict[str, Any]]:
    """Validate a discover answer against _oci.md and specs-go/v1/extensions/ext.go field rules;
    returns the entries by name."""
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"] == "application/json"
    assert int(reply.headers["content-length"]) == len(reply.body)
    body = reply.json()
    assert list(body) == ["extensions"]
    assert isinstance(body["extensions"], list)  # REQUIRED; `[]`, never null
    entries = {}
    for entry in body["extensions"]:
        assert {"name", "url", "endpoints"} <= set(entry) <= {"name", "url", "description", "endpoints"}
        name = entry["name"]
        assert isinstance(name, str) and name.startswith("_") and SEGMENT.match(name[1:])
        assert isinstance(entry["url"], str) and entry["url"]
        if "description" in entry:  # `json:"description,omitempty"`
            assert isinstance(entry["description"], str) and entry["description"]
        assert isinstance(entry["endpoints"], list)
        for endpoint in entry["endpoints"]:
            assert isinstance(endpoint, str) and endpoint.startswith("/v2/") and f"/{name}/" in endpoint
        assert name not in entries, "extension names are unique"
        entries[name] = entry
    return entries


def acme(registry: Registry, **options: Any) -> Any:
    """A user extension with one endpoint at each level."""
    ext = registry.add_extension("_acme", url="https://acme.example/docs/ext", **options)

    @ext.registry_endpoint("stats", "summary")
    def summary(request: Any, registry: Registry) -> Dict[str, Any]:
        return {"repositories": registry.repositories(), "verbose": request.arg("verbose")}

    @ext.repository_endpoint("stats", "tags")
    def tags(request: Any, registry: Registry, name: str) -> Dict[str, Any]:
        return {"name": name, "tags": registry.tags(name)}

    return ext


# -- discovery ------------------------------------------------------------------------------
def test_discover_lists_nothing_by_default_at_both_levels(web: Any) -> None:
    assert check_discover(get(web, "/v2/_oci/ext/discover")) == {}
    assert check_discover(get(web, "/v2/demo/app/_oci/ext/discover")) == {}
    assert get(web, "/v2/demo/app/_oci/ext/discover").body == b'{"extensions": []}'


def test_discover_lists_each_level_its_own_endpoints(web: Any, registry: Registry) -> None:
    acme(registry, description="Acme statistics")
    at_registry = check_discover(get(web, "/v2/_oci/ext/discover"))
    at_repository = check_discover(get(web, "/v2/demo/app/_oci/ext/discover"))
    assert at_registry == {"_acme": {"name": "_acme", "url": "https://acme.example/docs/ext",
                                     "description": "Acme statistics", "endpoints": ["/v2/_acme/stats/summary"]}}
    assert at_repository["_acme"]["endpoints"] == ["/v2/demo/app/_acme/stats/tags"]


def test_discover_omits_an_empty_description(web: Any, registry: Registry) -> None:
    acme(registry)
    entry = check_discover(get(web, "/v2/_oci/ext/discover"))["_acme"]
    assert "description" not in entry


def test_repository_level_only_extension_is_absent_from_registry_discover(web: Any, registry: Registry) -> None:
    ext = registry.add_extension("_repo-only", url="https://example.com/repo-only")
    ext.repository_endpoint("info", "name")(lambda request, registry, name: {"name": name})
    assert check_discover(get(web, "/v2/_oci/ext/discover")) == {}
    assert list(check_discover(get(web, "/v2/a/_oci/ext/discover"))) == ["_repo-only"]
    get(web, "/v2/_repo-only/info/name").error(404, "EXTENSION_UNKNOWN")


def test_extension_enabled_for_chosen_repositories_only(web: Any, registry: Registry) -> None:
    acme(registry, repositories=["demo/app", "team/*"])
    for name in ("demo/app", "team/one", "team/two/deep"):
        assert "_acme" in check_discover(get(web, f"/v2/{name}/_oci/ext/discover")), name
        assert get(web, f"/v2/{name}/_acme/stats/tags").json() == {"name": name, "tags": []}
    for name in ("demo/other", "team"):
        assert "_acme" not in check_discover(get(web, f"/v2/{name}/_oci/ext/discover")), name
        error = get(web, f"/v2/{name}/_acme/stats/tags").error(404, "EXTENSION_UNKNOWN")
        assert error["detail"] == {"extension": "_acme", "name": name}
    # the registry level is not per-repository
    assert "_acme" in check_discover(get(web, "/v2/_oci/ext/discover"))


def test_changing_the_enabled_repositories_takes_effect_at_once(web: Any, registry: Registry) -> None:
    ext = acme(registry, repositories=["demo/app"])
    get(web, "/v2/other/_acme/stats/tags").error(404, "EXTENSION_UNKNOWN")
    ext.repositories = None
    assert get(web, "/v2/other/_acme/stats/tags").status == 200
    registry.extensions.remove("_acme")
    assert check_discover(get(web, "/v2/other/_oci/ext/discover")) == {}
    get(web, "/v2/_acme/stats/summary").error(404, "EXTENSION_UNKNOWN")


def test_discover_answers_unsupported_when_extensions_are_switched_off(web: Any, registry: Registry) -> None:
    acme(registry)
    registry.configure(extensions=False)
    for path in ("/v2/_oci/ext/discover", "/v2/demo/app/_oci/ext/discover",
                 "/v2/_acme/stats/summary", "/v2/demo/_acme/stats/tags"):
        get(web, path).error(404, "UNSUPPORTED")
    registry.configure(extensions=True)
    assert "_acme" in check_discover(get(web, "/v2/_oci/ext/discover"))


def test_discover_only_allows_get_and_head(web: Any) -> None:
    reply = web.request("POST", "/v2/_oci/ext/discover")
    reply.error(405, "UNSUPPORTED")
    assert reply.headers["allow"] == "GET, HEAD"
    head = web.request("HEAD", "/v2/_oci/ext/discover")
    assert head.status == 200 and head.body == b""


# -- calling extensions ---------------------------------------------------------------------
def test_user_extension_answers_at_both_levels_with_query_parameters(web: Any, registry: Registry) -> None:
    acme(registry)
    registry.push_blob("demo/app", b"layer")
    assert get(web, "/v2/_acme/stats/summary?verbose=yes").json() == {"repositories": ["demo/app"], "verbose": "yes"}
    reply = get(web, "/v2/demo/app/_acme/stats/tags")
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    assert reply.json() == {"name": "demo/app", "tags": []}


def test_repository_names_that_look_like_routes_still_route(web: Any, registry: Registry) -> None:
    acme(registry)
    for name in ("a/manifests", "x/blobs/uploads", "oci/ext/discover", "v2", "a/tags/list", "a__b/c.d-e"):
        assert get(web, f"/v2/{name}/_acme/stats/tags").json()["name"] == name
        assert "_acme" in check_discover(get(web, f"/v2/{name}/_oci/ext/discover"))


def test_a_tag_starting_with_underscore_is_still_a_manifest(web: Any, registry: Registry) -> None:
    config = registry.push_blob("a", b"{}")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
                "layers": []}
    digest = registry.push_manifest("a", manifest, tags="_oci")
    reply = get(web, "/v2/a/manifests/_oci")
    assert reply.status == 200 and reply.headers["docker-content-digest"] == digest


def test_an_invalid_repository_name_is_name_invalid(web: Any, registry: Registry) -> None:
    acme(registry)
    for path in ("/v2/Demo/_acme/stats/tags", "/v2/a-/_oci/ext/discover", "/v2/a..b/_acme/stats/tags"):
        get(web, path).error(400, "NAME_INVALID")


def test_unknown_extension_is_extension_unknown(web: Any) -> None:
    for path in ("/v2/_nope/a/b", "/v2/demo/_nope/a/b", "/v2/_nope", "/v2/_catalog/x/y"):
        get(web, path).error(404, "EXTENSION_UNKNOWN")


def test_unknown_component_or_module_is_404_listing_the_endpoints(web: Any, registry: Registry) -> None:
    acme(registry)
    for path in ("/v2/_acme/stats/other", "/v2/_acme/other/summary", "/v2/_acme/stats",
                 "/v2/_acme/stats/summary/extra", "/v2/_acme", "/v2/_oci/ext/nope"):
        get(web, path).error(404, "UNSUPPORTED")
    error = get(web, "/v2/demo/_acme/stats/nope").error(404, "UNSUPPORTED")
    assert error["detail"]["endpoints"] == ["/v2/demo/_acme/stats/tags"]


def test_wrong_method_is_405_with_allow(web: Any, registry: Registry) -> None:
    ext = acme(registry)
    ext.registry_endpoint("notes", "entry", methods=("PUT", "DELETE"))(lambda request, registry: {})
    reply = web.request("DELETE", "/v2/_acme/stats/summary")
    reply.error(405, "UNSUPPORTED")
    assert reply.headers["allow"] == "GET, HEAD"
    reply = web.request("GET", "/v2/_acme/notes/entry")
    reply.error(405, "UNSUPPORTED")
    assert reply.headers["allow"] == "DELETE, PUT"


def test_head_on_a_get_endpoint_answers_without_body(web: Any, registry: Registry) -> None:
    acme(registry)
    reply = web.request("HEAD", "/v2/_acme/stats/summary")
    assert reply.status == 200 and reply.body == b""
    assert int(reply.headers["content-length"]) > 0


def test_handler_reads_a_request_body_and_returns_its_own_response(web: Any, registry: Registry) -> None:
    ext = registry.add_extension("_echo", url="https://example.com/echo")

    @ext.repository_endpoint("body", "upper", methods=("POST",))
    def upper(request: Any, registry: Registry, name: str) -> Response:
        data = request.read_all(1024).upper()
        return Response(201, [("Content-Type", "text/plain"), ("Content-Length", str(len(data))),
                              ("X-Repository", name)], data)

    reply = web.request("POST", "/v2/demo/_echo/body/upper", {"Content-Type": "text/plain"}, b"hello")
    assert (reply.status, reply.body, reply.headers["x-repository"]) == (201, b"HELLO", "demo")


def test_module_parameter_reaches_the_handler(web: Any, registry: Registry) -> None:
    ext = registry.add_extension("_acme", url="https://acme.example")
    ext.repository_endpoint("tags", "{tag}")(lambda request, registry, name, tag: [name, tag])
    assert get(web, "/v2/demo/_acme/tags/V1.0_rc").json() == ["demo", "V1.0_rc"]
    assert check_discover(get(web, "/v2/demo/_oci/ext/discover"))["_acme"]["endpoints"] == ["/v2/demo/_acme/tags/{tag}"]


def test_handler_errors_render_as_spec_errors_and_bugs_as_500(web: Any, registry: Registry) -> None:
    from mockreg import RegistryError

    ext = registry.add_extension("_acme", url="https://acme.example")

    @ext.registry_endpoint("fail", "denied")
    def denied(request: Any, registry: Registry) -> None:
        raise RegistryError("DENIED", "not today")

    ext.registry_endpoint("fail", "bug")(lambda request, registry: "a string is no response")
    assert get(web, "/v2/_acme/fail/denied").error(403, "DENIED")["detail"] == "not today"
    assert get(web, "/v2/_acme/fail/bug").status == 500
    assert isinstance(registry.server_errors[-1], TypeError)


def test_extension_requests_pass_through_layers_with_their_repository(web: Any, registry: Registry) -> None:
    seen: List[Any] = []

    class DenySecret(Layer):  # what an auth layer does: decide from the match's kind and name
        def before(self, registry: Registry, request: Any, match: Any) -> Optional[Response]:
            seen.append((match.kind, dict(match.params)))
            if match.params.get("name") == "secret":
                body = b'{"errors": [{"code": "DENIED", "message": "denied"}]}'
                return Response(403, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body)
            return None

    registry.layers.append(DenySecret())
    acme(registry)
    get(web, "/v2/secret/_acme/stats/tags").error(403, "DENIED")
    get(web, "/v2/secret/_oci/ext/discover").error(403, "DENIED")
    assert get(web, "/v2/open/_acme/stats/tags").status == 200
    assert get(web, "/v2/_oci/ext/discover").status == 200
    assert seen == [
        ("extension", {"extension": "_acme", "path": "stats/tags", "name": "secret"}),
        ("extension-discover", {"name": "secret"}),
        ("extension", {"extension": "_acme", "path": "stats/tags", "name": "open"}),
        ("extension-discover", {}),
    ]


# -- Accept negotiation (extensions/README.md "Versioning") ---------------------------------
V1, V2 = "application/vnd.acme.stats.v1+json", "application/vnd.acme.stats.v2+json"


@pytest.fixture
def versioned(registry: Registry) -> Registry:
    ext = registry.add_extension("_acme", url="https://acme.example")

    @ext.registry_endpoint("stats", "summary", produces=(V2, V1))
    def summary(request: Any, registry: Registry, media_type: str) -> Dict[str, Any]:
        return {"version": 2 if media_type == V2 else 1}

    return registry


@pytest.mark.parametrize("accept, produced", [
    (None, V2),
    (V1, V1),
    (f"{V1}, {V2}", V2),
    (f"{V2};q=0.4, {V1};q=0.8", V1),
    ("*/*", V2),
    ("application/*", V2),
    (f"application/*;q=0.9, {V2};q=0", V1),
    ("text/html, */*;q=0.1", V2),
])
def test_accept_picks_the_best_declared_media_type(web: Any, versioned: Registry, accept: Optional[str],
                                                  produced: str) -> None:
    reply = web.request("GET", "/v2/_acme/stats/summary", {"Accept": accept} if accept else {})
    assert reply.status == 200
    assert reply.headers["content-type"] == produced
    assert reply.json() == {"version": 2 if produced == V2 else 1}


@pytest.mark.parametrize("accept", ["text/html", "application/vnd.acme.stats.v3+json", f"{V1};q=0, {V2};q=0",
                                    "application/json"])
def test_accept_that_nothing_fits_is_406(web: Any, versioned: Registry, accept: str) -> None:
    error = get(web, "/v2/_acme/stats/summary", Accept=accept).error(406, "UNSUPPORTED")
    assert error["detail"]["produces"] == [V2, V1]


def test_endpoint_without_declared_types_ignores_accept(web: Any, registry: Registry) -> None:
    acme(registry)
    assert get(web, "/v2/_acme/stats/summary", Accept="text/html").status == 200


# -- the Python API refuses what the spec forbids --------------------------------------------
@pytest.mark.parametrize("name", ["acme", "_", "_Acme", "_a__b", "_a--b", "_a-", "_a/b", "__acme", "_ac me", ""])
def test_invalid_extension_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="must be '_' followed by"):
        Registry().add_extension(name, url="https://example.com")


@pytest.mark.parametrize("name", ["_oci", "_catalog"])
def test_reserved_names_are_refused_for_user_extensions(name: str) -> None:
    with pytest.raises(ValueError, match="reserved"):
        Registry().add_extension(name, url="https://example.com")


@pytest.mark.parametrize("name", ["_a", "_a1", "_a.b", "_a-b_c", "_0", "_chainguard"])
def test_valid_extension_names_are_accepted(name: str) -> None:
    assert Registry().add_extension(name, url="https://example.com").name == name


@pytest.mark.parametrize("component, module", [("Stats", "x"), ("stats", "X"), ("a/b", "x"), ("", "x"),
                                               ("stats", ""), ("{p}", "x"), ("stats", "{1p}"), ("_s", "x")])
def test_invalid_component_or_module_is_refused(component: str, module: str) -> None:
    ext = Registry().add_extension("_acme", url="https://example.com")
    with pytest.raises(ValueError, match="must match"):
        ext.registry_endpoint(component, module)


def test_declaration_mistakes_fail_at_declaration() -> None:
    registry = Registry()
    with pytest.raises(ValueError, match="url"):
        registry.add_extension("_acme", url="")
    ext = registry.add_extension("_acme", url="https://example.com")
    with pytest.raises(ValueError, match="already added"):
        registry.add_extension("_acme", url="https://example.com")
    with pytest.raises(ValueError, match="methods"):
        ext.registry_endpoint("a", "b", methods=("FETCH",))
    with pytest.raises(ValueError, match="media type"):
        ext.registry_endpoint("a", "b", produces=("json",))
    with pytest.raises(TypeError, match=r"must accept \(request, registry, name, tag\)"):
        ext.repository_endpoint("a", "{tag}")(lambda request, registry, name: None)
    with pytest.raises(ValueError, match="not a repository name"):
        ext.repositories = ["Bad Name"]
    ext.registry_endpoint("a", "b")(lambda request, registry: {})
    with pytest.raises(ValueError, match="already handled"):
        ext.registry_endpoint("a", "b")(lambda request, registry: {})
    ext.repository_endpoint("a", "{tag}")(lambda request, registry, name, tag: {})
    with pytest.raises(ValueError, match="already takes a parameter"):
        ext.repository_endpoint("a", "{digest}")(lambda request, registry, name, digest: {})


def test_three_lines_add_an_extension_a_client_discovers_and_calls(web: Any, registry: Registry) -> None:
    ext = registry.add_extension("_hello", url="https://example.com/hello", description="Says hello")
    @ext.registry_endpoint("greeting", "world")
    def world(request: Any, registry: Registry) -> Dict[str, str]: return {"hello": "world"}  # noqa: E704

    entry = check_discover(get(web, "/v2/_oci/ext/discover"))["_hello"]
    assert get(web, entry["endpoints"][0]).json() == {"hello": "world"}


def test_repository_level_extension_needs_pull_access_under_auth(web: Any, registry: Registry) -> None:
    import base64

    acme(registry)
    registry.enable_auth(scheme="basic", users=[{"name": "alice", "password": "pw", "access": {"demo/*": "pull"}}])
    alice = {"Authorization": "Basic " + base64.b64encode(b"alice:pw").decode()}
    web.request("GET", "/v2/demo/app/_acme/stats/tags").error(401, "UNAUTHORIZED")
    assert web.request("GET", "/v2/demo/app/_acme/stats/tags", alice).status == 200
    assert web.request("GET", "/v2/demo/app/_oci/ext/discover", alice).status == 200
    web.request("GET", "/v2/other/_acme/stats/tags", alice).error(403, "DENIED")
    web.request("GET", "/v2/other/_oci/ext/discover", alice).error(403, "DENIED")


def test_fault_rules_can_target_extension_routes(web: Any, registry: Registry) -> None:
    acme(registry)
    registry.add_fault(kinds=["extension"], first=1, status=503)
    assert web.request("GET", "/v2/_acme/stats/summary").status == 503
    assert web.request("GET", "/v2/_acme/stats/summary").status == 200
    assert web.request("GET", "/v2/_oci/ext/discover").status == 200  # another kind


def test_reset_forgets_content_but_keeps_extensions(web: Any, registry: Registry) -> None:
    acme(registry)
    registry.extensions.enable("history")
    registry.push_blob("demo/app", b"layer")
    registry.reset()
    assert get(web, "/v2/_acme/stats/summary").json()["repositories"] == []
    assert set(check_discover(get(web, "/v2/demo/_oci/ext/discover"))) == {"_acme", "_chainguard"}


def test_an_unlisted_extension_serves_but_is_not_discovered(web: Any, registry: Registry) -> None:
    acme(registry).listed = False
    assert check_discover(get(web, "/v2/_oci/ext/discover")) == {}
    assert get(web, "/v2/_acme/stats/summary").status == 200
