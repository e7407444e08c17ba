"""In-process transports: `requests` through `responses`, and `httpx` through WSGITransport."""

import io

import httpx
import pytest
import requests
import responses
from registry_helpers import sha256
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from mockreg import Registry
from mockreg.content import push_image
from mockreg.inprocess import METHODS, RequestsRouter, httpx_client, httpx_transport
from mockreg.journal import attach
from mockreg.server import LiveServer


@pytest.fixture
def router(registry):
    with RequestsRouter(registry) as started:
        yield started


def two_challenges_app(environ, start_response):
    start_response("401 Unauthorized", [
        ("WWW-Authenticate", 'Bearer realm="http://auth.test/token",service="mockreg"'),
        ("WWW-Authenticate", 'Basic realm="mockreg"'),
        ("Content-Length", "0")])
    return [b""]


def dropping_app(environ, start_response):
    start_response("200 OK", [("Content-Length", "10")])

    def body():
        yield b"12345"
        raise ConnectionError("a fault rule dropped the connection")
    return body()


def test_every_method_and_any_path_under_the_base_url_reaches_the_registry(registry, router):
    journal = attach(registry)
    for method in METHODS:
        requests.request(method, f"{router.url}/v2/a/b/c/manifests/latest?x=1")
    assert [e.method for e in journal] == list(METHODS)
    assert {e.path for e in journal} == {"/v2/a/b/c/manifests/latest"}
    assert {e.query for e in journal} == {"x=1"}
    assert requests.get(f"{router.url}/elsewhere").status_code == 404
    assert requests.get(router.url).status_code == 404  # "/" is no route, but it reached the registry


def test_a_pushed_image_is_pulled_back_with_headers_and_body(registry, router):
    image = push_image(registry, "demo/app:1.0", layers=[3000])
    response = requests.get(f"{router.url}/v2/demo/app/manifests/1.0", headers={"Accept": image.media_type})
    assert response.status_code == 200 and response.content == image.manifest
    assert response.headers["Docker-Content-Digest"] == image.digest
    layer = image.layers[0]
    head = requests.head(f"{router.url}/v2/demo/app/blobs/{layer.digest}")
    assert head.status_code == 200 and head.headers["Content-Length"] == "3000" and head.content == b""
    ranged = requests.get(f"{router.url}/v2/demo/app/blobs/{layer.digest}", headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == layer.data[10:20]
    streamed = requests.get(f"{router.url}/v2/demo/app/blobs/{layer.digest}", stream=True)
    assert b"".join(streamed.iter_content(1000)) == layer.data


def test_duplicate_response_headers_are_kept(registry, router):
    image = push_image(registry, "demo/app:seed")
    response = requests.put(f"{router.url}/v2/demo/app/manifests/1.0?tag=latest&tag=stable",
                            data=image.manifest, headers={"Content-Type": image.media_type})
    assert response.status_code == 201
    assert response.raw.headers.getlist("OCI-Tag") == ["1.0", "latest", "stable"]
    with RequestsRouter(two_challenges_app, ["http://auth.test"]):
        challenged = requests.get("http://auth.test/v2/")
    assert challenged.raw.headers.getlist("WWW-Authenticate") == [
        'Bearer realm="http://auth.test/token",service="mockreg"', 'Basic realm="mockreg"']


def test_streamed_generator_and_file_bodies_are_accepted(registry, router):
    location = requests.post(f"{router.url}/v2/demo/app/blobs/uploads/").headers["Location"]

    def chunks():
        yield b"first "
        yield "second "  # requests passes str chunks through as they are
        yield b"third"
    patched = requests.patch(f"{router.url}{location}", data=chunks())
    assert patched.status_code == 202 and patched.headers["Range"] == "0-17"
    done = requests.put(f"{router.url}{patched.headers['Location']}?digest={sha256(b'first second third')}",
                        data=io.BytesIO(b""))
    assert done.status_code == 201
    assert registry.blob("demo/app", sha256(b"first second third")) == b"first second third"
    whole = b"x" * 100_000
    posted = requests.post(f"{router.url}/v2/demo/app/blobs/uploads/?digest={sha256(whole)}", data=io.BytesIO(whole))
    assert posted.status_code == 201 and registry.blob("demo/app", sha256(whole)) == whole


def test_several_hosts_reach_the_same_registry_and_base_urls_are_checked(registry, router):
    router.add_host("https://Registry.Example:5000/")
    assert router.urls == ["http://mockreg.test", "https://registry.example:5000"]
    assert requests.get("https://registry.example:5000/v2/").status_code == 200
    with pytest.raises(ValueError, match="no path"):
        router.add_host("http://mockreg.test/prefix")
    with pytest.raises(ValueError, match="http"):
        router.add_host("ftp://mockreg.test")


def test_other_hosts_pass_through_by_default_and_are_refused_on_request(registry, router):
    other = Registry()
    push_image(other, "elsewhere:1")
    with LiveServer(other) as server:
        assert requests.get(f"{server.url}/v2/elsewhere/tags/list").json()["tags"] == ["1"]
        router.passthrough = False
        with pytest.raises(requests.exceptions.ConnectionError, match="Connection refused by Responses"):
            requests.get(f"{server.url}/v2/")
        router.allow(server.url)
        assert requests.get(f"{server.url}/v2/").status_code == 200
    assert requests.get(f"{router.url}/v2/").status_code == 200


def test_a_host_that_merely_starts_like_the_base_url_is_not_routed(registry):
    with LiveServer(Registry()) as server, RequestsRouter(registry, [f"http://127.0.0.1:{server.port // 10}"]):
        journal = attach(registry)
        assert requests.get(f"{server.url}/v2/").status_code == 200
        assert len(journal) == 0


@responses.activate
def test_coexists_with_a_users_responses_mock_started_first(registry):
    responses.get("http://api.example/status", json={"ok": True})
    with RequestsRouter(registry) as router:
        assert requests.get("http://api.example/status").json() == {"ok": True}
        assert requests.get(f"{router.url}/v2/").status_code == 200
    assert len(responses.calls) == 1


def test_coexists_with_a_users_responses_mock_started_inside(registry, router):
    with responses.RequestsMock() as user_mock:  # asserts all its requests fire: ours must not count
        user_mock.get("http://api.example/status", json={"ok": True})
        assert requests.get(f"{router.url}/v2/").status_code == 200
        assert requests.get("http://api.example/status").json() == {"ok": True}
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get("http://api.example/unregistered")
    assert requests.get(f"{router.url}/v2/").status_code == 200


def test_the_adapters_urllib3_retry_replays_retryable_statuses(registry):
    calls = []

    def flaky_app(environ, start_response):
        calls.append(environ["PATH_INFO"])
        status = "503 Service Unavailable" if len(calls) < 3 else "200 OK"
        start_response(status, [("Content-Length", "0")])
        return [b""]

    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=Retry(total=3, status_forcelist=[503], backoff_factor=0)))
    with RequestsRouter(flaky_app):
        assert session.get("http://mockreg.test/v2/").status_code == 200
        assert len(calls) == 3
        calls.clear()
        assert requests.get("http://mockreg.test/v2/").status_code == 503  # default adapter: no retries
        assert len(calls) == 1


def test_a_dropped_connection_is_a_requests_connection_error():
    with RequestsRouter(dropping_app):
        with pytest.raises(requests.exceptions.ConnectionError, match="connection dropped by the registry"):
            requests.get("http://mockreg.test/v2/")


def test_an_exception_in_the_app_reaches_the_caller():
    def broken_app(environ, start_response):
        raise KeyError("bug in the app")

    with RequestsRouter(broken_app), pytest.raises(KeyError, match="bug in the app"):
        requests.get("http://mockreg.test/v2/")


def test_stopping_restores_requests():
    original = requests.Session.get_adapter
    router = RequestsRouter(Registry()).start()
    assert requests.Session.get_adapter is not original
    router.stop()
    router.stop()
    assert requests.Session.get_adapter is original


def test_routers_nest_and_each_answers_for_its_own_host():
    first, second = Registry(), Registry()
    push_image(first, "one:1")
    push_image(second, "two:2")
    with RequestsRouter(first, ["http://first.test"]), RequestsRouter(second, ["http://second.test"],
                                                                      passthrough=False):
        assert requests.get("http://first.test/v2/_catalog").json() == {"repositories": ["one"]}
        assert requests.get("http://second.test/v2/_catalog").json() == {"repositories": ["two"]}


def test_httpx_client_reaches_the_registry_in_process(registry):
    image = push_image(registry, "demo/app:seed")
    with httpx_client(registry) as client:
        assert str(client.base_url) == "http://mockreg.test"
        put = client.put("/v2/demo/app/manifests/1.0?tag=a&tag=b", content=image.manifest,
                         headers={"Content-Type": image.media_type})
        assert put.status_code == 201 and put.headers.get_list("OCI-Tag") == ["1.0", "a", "b"]

        def chunks():
            yield b"abc"
            yield b"def"
        posted = client.post(f"/v2/demo/app/blobs/uploads/?digest={sha256(b'abcdef')}", content=chunks())
        assert posted.status_code == 201 and registry.blob("demo/app", sha256(b"abcdef")) == b"abcdef"
        assert client.get("/v2/demo/app/tags/list").json()["tags"] == ["1.0", "a", "b", "seed"]


def test_httpx_reports_a_dropped_connection_as_a_protocol_error():
    with httpx.Client(transport=httpx_transport(dropping_app), base_url="http://mockreg.test") as client:
        with pytest.raises(httpx.RemoteProtocolError, match="connection dropped"):
            client.get("/v2/")
