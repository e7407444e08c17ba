"""`MockRegistry`: the fixtures' behaviour without pytest, for unittest suites."""

import unittest

import pytest
import requests

from mockreg import Registry
from mockreg.content import push_image
from mockreg.routes import route
from mockreg.session import MockRegistry, ServerErrors


def explode(registry, request):
    return 1 // 0


def test_a_context_manager_serves_a_fresh_registry_live_and_in_process():
    with MockRegistry(live=True, requests=True, settings={"referrers": False}) as mocked:
        assert isinstance(mocked.registry, Registry) and mocked.registry.settings.referrers is False
        push_image(mocked.registry, "demo/app:1.0")
        assert mocked.url.startswith("http://127.0.0.1:") and mocked.host_port in mocked.url
        assert requests.get(f"{mocked.url}/v2/demo/app/tags/list").json()["tags"] == ["1.0"]
        assert requests.get("http://mockreg.test/v2/demo/app/tags/list").json()["tags"] == ["1.0"]
        with mocked.httpx_client() as client:
            assert client.get("/v2/demo/app/tags/list").json()["tags"] == ["1.0"]
        mocked.journal.assert_count("tags-list", 3)
        url = mocked.url
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{url}/v2/", timeout=2)
    with MockRegistry(requests=True) as other:
        assert other.registry.repositories() == []
        assert other.url == "http://mockreg.test"


def test_start_and_stop_and_clear_errors_when_not_started():
    mocked = MockRegistry(requests=True, base_url=["http://one.test", "http://two.test"]).start()
    try:
        assert requests.get("http://two.test/v2/").status_code == 200
    finally:
        mocked.stop()
    with pytest.raises(RuntimeError, match="not started"):
        _ = MockRegistry().url
    with pytest.raises(RuntimeError, match="live=True"):
        _ = MockRegistry(requests=True).start().host_port


def test_leaving_the_block_raises_the_registry_exceptions():
    with pytest.raises(ServerErrors, match="ZeroDivisionError"):
        with MockRegistry(requests=True) as mocked:
            mocked.registry.router.add(route("/boom", get=("boom", explode)))
            assert requests.get("http://mockreg.test/boom").status_code == 500
    with pytest.raises(KeyError):  # the block's own exception wins over the report
        with MockRegistry(requests=True) as mocked:
            mocked.registry.router.add(route("/boom", get=("boom", explode)))
            requests.get("http://mockreg.test/boom")
            raise KeyError("the test's own failure")


class DecoratedTestCase(unittest.TestCase):
    @MockRegistry(requests=True)
    def test_gets_a_fresh_registry(self, mocked):
        self.assertEqual(mocked.registry.repositories(), [])
        push_image(mocked.registry, "demo/app:1.0")
        self.assertEqual(requests.get(f"{mocked.url}/v2/demo/app/tags/list").json()["tags"], ["1.0"])

    @MockRegistry(requests=True)
    def test_again_fresh(self, mocked):
        self.assertEqual(mocked.registry.repositories(), [])


def test_the_decorator_works_under_unittests_runner():
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(DecoratedTestCase)
    result = unittest.TestResult()
    suite.run(result)
    assert result.testsRun == 2 and result.wasSuccessful(), result.errors + result.failures


@MockRegistry(live=True)
def test_the_decorator_works_on_a_pytest_function(mocked):
    assert requests.get(f"{mocked.url}/v2/").status_code == 200
