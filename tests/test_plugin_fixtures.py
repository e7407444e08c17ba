"""The plugin's fixtures, exercised in a pytest run of their own (pytester)."""

import socket

# Imported by the outer run so it stays loaded: pytester drops modules an inner run imported, and
# cryptography (under trustme) cannot be imported a second time in one process.
import trustme  # noqa: F401

pytest_plugins = ["pytester"]


def test_each_test_gets_a_fresh_registry_with_its_journal_first(run, pytester):
    pytester.makepyfile("""
        from mockreg import Registry
        from mockreg.content import push_image
        from mockreg.journal import Journal

        def test_first(mockreg, mockreg_journal):
            assert isinstance(mockreg, Registry)
            assert mockreg.layers[0] is mockreg_journal and isinstance(mockreg_journal, Journal)
            push_image(mockreg, "demo/app:1.0")

        def test_second_sees_nothing_of_the_first(mockreg):
            assert mockreg.repositories() == []
    """)
    run().assert_outcomes(passed=2)


def test_the_live_server_is_shared_but_serves_each_tests_own_registry(run, pytester):
    pytester.makepyfile("""
        import re
        import requests
        from mockreg.content import push_image

        seen = {}

        def test_one(mockreg_server, mockreg):
            assert mockreg_server.registry is mockreg
            assert re.fullmatch(r"http://127\\.0\\.0\\.1:\\d+", mockreg_server.url)
            assert mockreg_server.url == "http://" + mockreg_server.host_port
            assert mockreg_server.reference("demo/app:1.0") == mockreg_server.host_port + "/demo/app:1.0"
            push_image(mockreg, "demo/app:1.0")
            assert requests.get(mockreg_server.url + "/v2/demo/app/tags/list").json()["tags"] == ["1.0"]
            seen["url"] = mockreg_server.url

        def test_two_same_server_other_registry(mockreg_server):
            assert mockreg_server.url == seen["url"]
            assert requests.get(mockreg_server.url + "/v2/demo/app/tags/list").status_code == 404
            mockreg_server.journal.assert_count("tags-list", 1)

        def test_between_tests_the_server_answers_503(mockreg_live_server):
            response = requests.get(seen["url"] + "/v2/")
            assert response.status_code == 503
            assert response.json()["errors"][0]["code"] == "UNAVAILABLE"
    """)
    run().assert_outcomes(passed=3)


def test_the_live_server_serves_concurrent_clients(run, pytester):
    pytester.makepyfile("""
        from concurrent.futures import ThreadPoolExecutor
        import hashlib
        import requests

        def test_parallel_pushes(mockreg_server):
            def push(i):
                data = b"blob %d" % i
                digest = "sha256:" + hashlib.sha256(data).hexdigest()
                with requests.Session() as session:
                    url = f"{mockreg_server.url}/v2/demo/app/blobs/uploads/?digest={digest}"
                    return session.post(url, data=data).status_code
            with ThreadPoolExecutor(8) as pool:
                assert set(pool.map(push, range(64))) == {201}
            assert len(mockreg_server.journal.pushed_blobs("demo/app")) == 64
    """)
    run().assert_outcomes(passed=1)


def test_requests_and_httpx_fixtures_reach_the_same_registry_in_process(run, pytester):
    pytester.makepyfile("""
        import requests
        from mockreg.content import push_image

        def test_requests(mockreg_requests, mockreg):
            push_image(mockreg, "demo/app:1.0")
            assert mockreg_requests.url == "http://mockreg.test"
            assert requests.get("http://mockreg.test/v2/demo/app/tags/list").json()["tags"] == ["1.0"]

        def test_httpx(mockreg_httpx, mockreg):
            push_image(mockreg, "demo/app:2.0")
            assert mockreg_httpx.get("/v2/demo/app/tags/list").json()["tags"] == ["2.0"]

        def test_all_three_share_one_registry(mockreg_server, mockreg_requests, mockreg_httpx, mockreg_journal):
            mockreg_requests.passthrough = False  # the live server stays reachable
            requests.get(mockreg_server.url + "/v2/")
            requests.get(mockreg_requests.url + "/v2/")
            mockreg_httpx.get("/v2/")
            mockreg_journal.assert_count("base", 3)
    """)
    run().assert_outcomes(passed=3)


def test_the_in_process_base_url_is_an_override_point(run, pytester):
    pytester.makeconftest("""
        import pytest

        @pytest.fixture(scope="session")
        def mockreg_base_url():
            return "https://registry.example:5000"
    """)
    pytester.makepyfile("""
        import requests

        def test_custom_url(mockreg_requests, mockreg_httpx):
            assert requests.get("https://registry.example:5000/v2/").status_code == 200
            assert str(mockreg_httpx.base_url) == "https://registry.example:5000"
            assert mockreg_httpx.get("/v2/").status_code == 200
    """)
    run().assert_outcomes(passed=1)


def test_the_listen_address_fixture_can_ask_for_ipv6(run, pytester):
    pytester.makeconftest("""
        import pytest

        @pytest.fixture(scope="session")
        def mockreg_listen_address():
            return ("::1", 0)
    """)
    pytester.makepyfile("""
        import requests

        def test_ipv6(mockreg_server):
            assert mockreg_server.host_port.startswith("[::1]:")
            assert requests.get(mockreg_server.url + "/v2/").status_code == 200
    """)
    run().assert_outcomes(passed=1)


def test_environment_variables_choose_host_and_port(run, pytester, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    monkeypatch.setenv("MOCKREG_HOST", "127.0.0.1")
    monkeypatch.setenv("MOCKREG_PORT", str(free_port))
    pytester.makepyfile(f"""
        def test_port(mockreg_server):
            assert mockreg_server.host_port == "127.0.0.1:{free_port}"
    """)
    run().assert_outcomes(passed=1)


def test_a_bad_port_variable_is_a_clear_error(run, pytester, monkeypatch):
    monkeypatch.setenv("MOCKREG_PORT", "http")
    pytester.makepyfile("""
        def test_port(mockreg_server):
            pass
    """)
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*MOCKREG_PORT must be a port number*'http'*"])


def test_an_ssl_context_fixture_serves_https(run, pytester):
    pytester.makeconftest("""
        import pytest
        import trustme

        CA = trustme.CA()

        @pytest.fixture(scope="session")
        def mockreg_ssl_context():
            import ssl
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            CA.issue_cert("127.0.0.1").configure_cert(context)
            return context

        @pytest.fixture
        def ca_bundle(tmp_path):
            path = tmp_path / "ca.pem"
            CA.cert_pem.write_to_path(str(path))
            return str(path)
    """)
    pytester.makepyfile("""
        import requests

        def test_https(mockreg_server, ca_bundle):
            assert mockreg_server.url.startswith("https://127.0.0.1:")
            assert requests.get(mockreg_server.url + "/v2/", verify=ca_bundle).status_code == 200
    """)
    run().assert_outcomes(passed=1)


def test_the_journal_size_is_an_ini_option(run, pytester):
    pytester.makeini("""
        [pytest]
        mockreg_journal_size = 2
    """)
    pytester.makepyfile("""
        def test_bounded(mockreg_httpx, mockreg_journal):
            for _ in range(5):
                mockreg_httpx.get("/v2/")
            assert mockreg_journal.maxlen == 2 and len(mockreg_journal) == 2 and mockreg_journal.dropped == 3
    """)
    run().assert_outcomes(passed=1)
