"""Running a test once per registry profile (`@pytest.mark.mockreg_profiles`), and the marker's
`profile=` (docs/profiles.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

from mockreg import profiles

pytest_plugins = ["pytester"]

PROFILES = Path(__file__).parent / "profiles"


def copy_profiles(pytester) -> None:
    for path in PROFILES.glob("*.yaml"):
        shutil.copy(path, pytester.path / path.name)


def test_one_marker_runs_a_test_once_per_shipped_profile_named_in_the_id(run, pytester):
    pytester.makepyfile("""
        import pytest
        from mockreg import profiles

        @pytest.mark.mockreg_profiles()
        def test_push(mockreg_profile, mockreg):
            assert mockreg.profile is not None and mockreg.profile.name == mockreg_profile
            assert mockreg_profile in profiles.names()
    """)
    result = run("-v")
    result.assert_outcomes(passed=len(profiles.names()))
    for name in profiles.names():
        result.stdout.fnmatch_lines([f"*test_push[[]{name}[]] PASSED*"])


def test_profiles_can_be_named_excluded_and_selected_with_k(run, pytester):
    copy_profiles(pytester)
    pytester.makepyfile("""
        import pytest
        import requests

        @pytest.mark.mockreg_profiles("strict-spec", "push-needs-repo.yaml", "public-bearer.yaml",
                                      exclude=["public-bearer.yaml"])
        def test_push(mockreg_profile, mockreg_requests):
            url = f"{mockreg_requests.url}/v2/demo/app/blobs/uploads/"
            status = requests.post(url).status_code
            assert status == {"strict-spec": 202, "push-needs-repo.yaml": 401}[mockreg_profile]

        @pytest.mark.mockreg_profiles("public-bearer.yaml")
        def test_live_server_under_the_profile(mockreg_server):
            answer = requests.get(f"{mockreg_server.url}/v2/")
            assert answer.status_code == 401
            assert answer.headers["WWW-Authenticate"].startswith(f'Bearer realm="{mockreg_server.url}/v2/token"')
    """)
    result = run("-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_push[[]strict-spec[]] PASSED*", "*test_push[[]push-needs-repo[]] PASSED*",
                                 "*test_live_server_under_the_profile[[]public-bearer[]] PASSED*"])
    selected = run("-v", "-k", "push-needs-repo")
    selected.assert_outcomes(passed=1, deselected=2)


def test_marker_users_log_in_under_each_profiles_auth(run, pytester):
    copy_profiles(pytester)
    pytester.makepyfile("""
        import pytest
        import requests

        @pytest.mark.mockreg(users=[("alice", "pw")])
        @pytest.mark.mockreg_profiles("strict-spec", "push-needs-repo.yaml")
        def test_login(mockreg, mockreg_requests, mockreg_profile):
            mockreg.create_repository("team/app")
            answer = requests.post(f"{mockreg_requests.url}/v2/team/app/blobs/uploads/", auth=("alice", "pw"))
            assert answer.status_code == 202
    """)
    run().assert_outcomes(passed=2)


def test_the_marker_takes_a_profile_and_a_scenario_with_settings_on_top(run, pytester):
    copy_profiles(pytester)
    pytester.makefile(".yaml", scenario="version: 1\nsettings: {tags_page_max: 9}\nrepositories:\n  team/app: {}\n")
    pytester.makepyfile("""
        import pytest

        @pytest.mark.mockreg(profile="push-needs-repo.yaml", scenario="scenario.yaml", tags_page_size=4)
        def test_composed(mockreg, mockreg_profile):
            assert mockreg_profile == "push-needs-repo.yaml"
            assert mockreg.profile.name == "push-needs-repo"
            assert mockreg.settings.repository_must_exist                   # the profile
            assert mockreg.settings.tags_page_max == 9                       # the scenario on top
            assert mockreg.settings.tags_page_size == 4                      # the marker's settings last
            assert mockreg.repositories() == ["team/app"]

        def test_without_a_profile(mockreg, mockreg_profile):
            assert mockreg_profile is None and mockreg.profile is None
    """)
    run().assert_outcomes(passed=2)


def test_unknown_profiles_and_options_fail_clearly(run, pytester):
    pytester.makepyfile(test_unknown="""
        import pytest

        @pytest.mark.mockreg_profiles("nope")
        def test_unknown(mockreg):
            pass
    """, test_option="""
        import pytest

        @pytest.mark.mockreg_profiles(exclude="strict-spec", colour="red")
        def test_bad_option(mockreg):
            pass
    """, test_marker="""
        import pytest

        @pytest.mark.mockreg(profile="nope")
        def test_marker_unknown(mockreg):
            pass
    """)
    result = run("test_unknown.py")
    result.stdout.fnmatch_lines(["*test_unknown: @pytest.mark.mockreg_profiles: unknown profile(s) nope; "
                                 "known: *strict-spec*"])
    assert result.ret != 0
    result = run("test_option.py")
    result.stdout.fnmatch_lines(["*mockreg_profiles takes profile names and exclude=, not colour*"])
    assert result.ret != 0
    result = run("test_marker.py")
    result.stdout.fnmatch_lines(["*test_marker_unknown: registry profile 'nope': no profile named 'nope'*"])
    result.assert_outcomes(errors=1)


def test_a_test_without_registry_fixtures_is_not_parametrized(run, pytester):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.mockreg_profiles()
        def test_plain():
            pass
    """)
    run().assert_outcomes(passed=1)


def test_the_command_line_narrows_every_profiles_marker(run, pytester):
    copy_profiles(pytester)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.mockreg_profiles("strict-spec", "push-needs-repo.yaml", "public-bearer.yaml")
        def test_each(mockreg):
            pass

        @pytest.mark.mockreg_profiles("strict-spec")
        def test_strict_only(mockreg):
            pass
    """)
    result = run("-v", "--mockreg-profiles", "push-needs-repo, public-bearer")
    result.assert_outcomes(passed=2, skipped=1)   # test_strict_only has no profile left: pytest's empty set
    result.stdout.fnmatch_lines(["*test_each[[]push-needs-repo[]] PASSED*", "*test_each[[]public-bearer[]] PASSED*"])
    wrong = run("--mockreg-profiles=nope")
    wrong.stderr.fnmatch_lines(["*--mockreg-profiles: unknown profile(s) nope; known: *strict-spec*"])
    assert wrong.ret != 0
