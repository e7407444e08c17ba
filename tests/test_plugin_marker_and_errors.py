"""The `mockreg` marker, and how a registry exception fails the test that caused it."""


pytest_plugins = ["pytester"]


BOOM_CONFTEST = """
    import pytest
    from mockreg.routes import route

    def explode(registry, request):
        return 1 // 0

    @pytest.fixture
    def mockreg_with_a_bug(mockreg):
        mockreg.router.add(route("/boom", get=("boom", explode)))
        return mockreg
"""


def test_the_marker_applies_settings_closest_marker_winning(run, pytester):
    pytester.makepyfile("""
        import pytest
        import requests

        pytestmark = pytest.mark.mockreg(referrers=False, catalog=False)

        def test_module_marker(mockreg):
            assert (mockreg.settings.referrers, mockreg.settings.catalog) == (False, False)

        @pytest.mark.mockreg(referrers=True, chunk_min_length=1024)
        def test_function_marker_overrides(mockreg):
            assert (mockreg.settings.referrers, mockreg.settings.catalog) == (True, False)
            assert mockreg.settings.chunk_min_length == 1024

        @pytest.mark.mockreg(catalog=True)
        class TestClassMarker:
            def test_class_marker(self, mockreg):
                assert (mockreg.settings.referrers, mockreg.settings.catalog) == (False, True)

        def test_settings_reach_the_server(mockreg_server):
            digest = "sha256:" + "0" * 64
            assert requests.get(f"{mockreg_server.url}/v2/demo/app/referrers/{digest}").status_code == 404
    """)
    run("--strict-markers").assert_outcomes(passed=4)


def test_an_unknown_setting_or_a_bad_value_is_a_clear_setup_error(run, pytester):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.mockreg(referers=False)
        def test_typo(mockreg):
            pass

        @pytest.mark.mockreg(chunk_min_length="lots")
        def test_bad_value(mockreg):
            pass
    """)
    result = run()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines([
        "*test_typo: @pytest.mark.mockreg: unknown setting 'referers'; known: *referrers*",
        "*test_bad_value: @pytest.mark.mockreg: setting 'chunk_min_length' takes a whole number, not 'lots'*",
    ])
    assert "Traceback" not in result.stdout.str()


def test_a_scenario_marker_loads_the_file_into_each_tests_registry(run, pytester):
    pytester.makefile(".yaml", scenario="""
        version: 1
        settings: {referrers: false}
        repositories:
          demo/app:
            images: [{name: app, tags: ["1.0"], layers: [{size: 16}]}]
    """)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.mockreg(scenario="scenario.yaml")
        def test_keyword(mockreg, mockreg_scenario):
            assert mockreg.tags("demo/app") == ["1.0"]
            assert mockreg.manifest("demo/app", "1.0").digest == mockreg_scenario.digest("demo/app@app")
            assert mockreg.settings.referrers is False

        @pytest.mark.mockreg("scenario.yaml", referrers=True)
        def test_positional_with_settings_on_top(mockreg_requests, mockreg):
            import requests
            assert requests.get(f"{mockreg_requests.url}/v2/demo/app/tags/list").json()["tags"] == ["1.0"]
            assert mockreg.settings.referrers is True

        def test_unmarked_tests_start_empty(mockreg):
            assert mockreg.repositories() == []
    """)
    run().assert_outcomes(passed=3)


def test_a_bad_scenario_is_a_setup_error_naming_file_line_and_key(run, pytester):
    pytester.makefile(".yaml", bad="version: 1\nrepositories:\n  demo/app:\n    images: [{layrs: []}]\n")
    pytester.makepyfile("""
        import pytest

        @pytest.mark.mockreg(scenario="bad.yaml")
        def test_bad(mockreg):
            pass

        @pytest.mark.mockreg(scenario="missing.yaml")
        def test_missing(mockreg):
            pass

        def test_scenario_fixture_needs_the_marker(mockreg_scenario):
            pass
    """)
    result = run()
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(["*test_bad: @pytest.mark.mockreg: *bad.yaml:4:*layrs*did you mean 'layers'*",
                                 "*test_missing: @pytest.mark.mockreg: *no such scenario file*",
                                 "*mockreg_scenario needs @pytest.mark.mockreg(scenario=...)*"], consecutive=False)
    assert "Traceback" not in result.stdout.str()


def test_a_journal_assertion_failure_shows_what_the_client_did(run, pytester):
    pytester.makepyfile("""
        import requests
        from mockreg.content import push_image

        def test_expects_a_push(mockreg_requests, mockreg_journal, mockreg):
            image = push_image(mockreg, "demo/app:seed")
            requests.put(f"{mockreg_requests.url}/v2/demo/app/manifests/2.0", data=image.manifest,
                         headers={"Content-Type": image.media_type})
            mockreg_journal.assert_pushed("demo/app:1.0")
    """)
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*AssertionError: demo/app:1.0 was not pushed.",
        "*tags pushed: demo/app:2.0",
        "*PUT /v2/demo/app/manifests/2.0 -> 201 (manifest-put)",
    ])


def test_a_server_exception_fails_a_test_that_otherwise_passed_with_the_traceback(run, pytester):
    pytester.makeconftest(BOOM_CONFTEST)
    pytester.makepyfile("""
        import requests

        def test_live(mockreg_with_a_bug, mockreg_server):
            assert requests.get(mockreg_server.url + "/boom").status_code == 500

        def test_in_process(mockreg_with_a_bug, mockreg_requests):
            assert requests.get(mockreg_requests.url + "/boom").status_code == 500

        def test_unaffected(mockreg_server):
            assert requests.get(mockreg_server.url + "/v2/").status_code == 200
    """)
    result = run()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*ServerErrors: mockreg raised 1 exception(s) while serving requests:",
        "*--- server error 1 ---",
        "*in explode*",
        "*ZeroDivisionError: integer division or modulo by zero",
    ])


def test_a_test_failing_on_its_own_also_shows_the_server_traceback(run, pytester):
    pytester.makeconftest(BOOM_CONFTEST)
    pytester.makepyfile("""
        import requests

        def test_client_assertion(mockreg_with_a_bug, mockreg_server):
            assert requests.get(mockreg_server.url + "/boom").json() == {"ok": True}
    """)
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*- mockreg server errors -*", "*ZeroDivisionError*"])
    assert "ServerErrors" not in result.stdout.str()


def test_an_exception_escaping_the_registry_fails_the_test_too(run, pytester):
    pytester.makepyfile("""
        import pytest
        import requests
        from mockreg.layers import Layer

        class BrokenLayer(Layer):
            def after(self, registry, request, match, response):
                raise RuntimeError("a layer bug")

        def test_escaped(mockreg, mockreg_server):
            mockreg.layers.append(BrokenLayer())
            with pytest.raises(requests.exceptions.ConnectionError):
                requests.get(mockreg_server.url + "/v2/")
    """)
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ServerErrors*", "*RuntimeError: a layer bug"])


def test_a_server_exception_during_teardown_is_reported_at_teardown(run, pytester):
    pytester.makeconftest(BOOM_CONFTEST + """
    import requests

    @pytest.fixture
    def calls_boom_on_teardown(mockreg_with_a_bug, mockreg_server):
        yield
        requests.get(mockreg_server.url + "/boom")
""")
    pytester.makepyfile("""
        def test_body_is_fine(calls_boom_on_teardown):
            pass
    """)
    result = run()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_body_is_fine*", "*ZeroDivisionError*"])
