"""Registry profiles: loading and validating profile files, every behaviour's source, and how a
profile composes with settings, scenarios, the control API and the command line."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

import pytest
from werkzeug.test import Client

from mockreg import Registry, error_rules, profiles
from mockreg.cli import main
from mockreg.profiles.model import full_rights_user
from mockreg.scenario import Scenario, ScenarioError

HERE = Path(__file__).parent
PUSH_NEEDS_REPO = HERE / "profiles" / "push-needs-repo.yaml"
PUBLIC_BEARER = HERE / "profiles" / "public-bearer.yaml"
SPEC = "https://github.com/opencontainers/distribution-spec/blob/main/spec.md"


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# -- the shipped profiles ---------------------------------------------------------------------------
def test_names_lists_the_shipped_profiles_with_strict_spec_among_them():
    names = profiles.names()
    assert "strict-spec" in names and names == sorted(names)
    assert profiles.DEFAULT == "strict-spec"


@pytest.mark.parametrize("name", profiles.names())
def test_every_shipped_profile_loads_and_every_behaviour_cites_a_source(name):
    profile = profiles.load(name)
    assert profile.name == name and profile.title
    for behaviour in [*profile.behaviours(), *profile.not_emulated]:
        assert behaviour.sources, behaviour.key
        assert all(url.startswith(("https://", "http://")) for url in behaviour.sources), behaviour.key
    Registry(profile=name)  # applies without error


def test_strict_spec_is_todays_default_registry():
    profile = profiles.load("strict-spec")
    assert profile.behaviours() == [] and profile.auth is None
    registry = Registry(profile="strict-spec")
    assert registry.settings == Registry().settings and registry.layers == Registry().layers == []
    assert registry.profile is profile


def test_an_unknown_profile_name_lists_the_known_ones():
    with pytest.raises(profiles.UnknownProfile, match="no profile named 'nope'; known profiles: .*strict-spec"):
        Registry(profile="nope")


# -- the loader: every mistake is file:line: key: problem ------------------------------------------------
def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


HEAD = "profile: 1\nname: p\ntitle: T\n"


@pytest.mark.parametrize("body, where, problem", [
    ("settings:\n  catalog: {value: false}\n", ":5:", "settings.catalog: the key 'source' is required"),
    ("settings:\n  catalog: {value: false, source: www.example.com}\n", ":5:",
     "settings.catalog.source: expected an http(s) URL"),
    ("settings:\n  catalog: {value: false, source: []}\n", ":5:", "expected an http(s) URL or a list"),
    ("settings:\n  catalg: {value: false, source: 'https://x.example'}\n", ":5:", "unknown setting 'catalg'"),
    ("settings:\n  catalog: {value: maybe, source: 'https://x.example'}\n", ":5:", "takes true or false"),
    ("auth: {scheme: bearer}\n", ":4:", "auth: the key 'source' is required"),
    ("auth: {scheme: digest, source: 'https://x.example'}\n", ":4:", "auth scheme must be one of"),
    ("auth: {users: [], source: 'https://x.example'}\n", ":4:", "auth.users: a profile gives the auth shape only"),
    ("errors:\n  - when: {reason: x}\n    answer: {status: 700}\n    source: 'https://x.example'\n", ":5:",
     "errors[0]: error rule answer.status must be an HTTP status"),
    ("errors:\n  - when: {reason: x}\n    answer: {message: m}\n", ":5:", "errors[0]: the key 'source' is required"),
    ("headers:\n  - {kinds: [base], source: 'https://x.example'}\n", ":5:", "needs remove, add or set_status"),
    ("rate_limits:\n  - {limit: -1, source: 'https://x.example'}\n", ":5:", "limit"),
    ("extensions:\n  - {builtin: nope, source: 'https://x.example'}\n", ":5:", "unknown built-in extension"),
    ("not_emulated:\n  - {what: x}\n", ":5:", "the key 'source' is required"),
    ("extensions:\n  - {builtin: search, repositories: [a], source: 'https://x.example'}\n", ":5:",
     "extensions[0].repositories: only the history and events built-ins take repositories"),
    ("colour: red\n", ":4:", "unknown key 'colour'"),
    ("settings: !!python/object:os.system {}\n", ":4:", "not allowed"),
])
def test_profile_mistakes_name_file_line_and_key(tmp_path, body, where, problem):
    path = write(tmp_path, HEAD + body)
    with pytest.raises(profiles.ProfileError) as caught:
        profiles.load(path)
    message = str(caught.value)
    assert message.startswith(str(path) + where), message
    assert problem in message


def test_a_shipped_profile_must_carry_its_file_name(tmp_path, monkeypatch):
    from mockreg.profiles import reader

    path = write(tmp_path, HEAD, name="other.yaml")
    with pytest.raises(profiles.ProfileError, match="must be named 'other', not 'p'"):
        reader.read_profile(path, expect_name="other")
    with pytest.raises(profiles.ProfileError, match="the file does not exist"):
        profiles.load(tmp_path / "absent.yaml")
    with pytest.raises(profiles.ProfileError, match="the key 'title' is required"):
        profiles.load(write(tmp_path, "profile: 1\nname: p\n"))


def test_behaviours_keep_their_sources_notes_and_lines():
    profile = profiles.load(PUSH_NEEDS_REPO)
    first = profile.behaviours()[0]
    assert (first.key, first.value, first.sources, first.note) == (
        "settings.repository_must_exist", True, [SPEC + "#push"], "a test value")
    assert first.line == 7  # where the entry's mapping starts
    assert profile.behaviours()[-1].sources == [SPEC + "#error-codes", SPEC + "#push"]
    assert [item.value for item in profile.not_emulated] == ["repositories created by an API of their own"]


# -- composition ------------------------------------------------------------------------------------------
def test_a_profile_sets_switches_auth_and_rules_and_settings_given_on_top_win():
    registry = Registry(profile=str(PUSH_NEEDS_REPO), tags_page_max=5)
    assert registry.settings.repository_must_exist and registry.settings.tags_page_max == 5
    assert registry.auth is not None and registry.auth.config.scheme == "basic"
    client = Client(registry)
    assert client.post("/v2/a/blobs/uploads/").status_code == 401       # auth first, as a real registry
    registry.auth.configure(profiles.load(PUSH_NEEDS_REPO).auth_config([full_rights_user("u", "p")]))
    refused = client.post("/v2/a/blobs/uploads/", headers=basic("u", "p"))
    assert refused.status_code == 404
    assert refused.json["errors"][0]["message"] == "repository does not exist; create it first"


def test_users_log_in_under_the_profiles_auth_and_need_a_profile():
    registry = Registry(profile=str(PUSH_NEEDS_REPO), users=[("alice", "pw")])
    registry.create_repository("team/app")
    client = Client(registry)
    assert client.post("/v2/team/app/blobs/uploads/", headers=basic("alice", "pw")).status_code == 202
    assert client.post("/v2/team/app/blobs/uploads/", headers=basic("alice", "no")).status_code == 401
    assert Registry(profile="strict-spec", users=[("alice", "pw")]).auth is None   # no auth: nothing to log in to
    with pytest.raises(TypeError, match="without a profile use enable_auth"):
        Registry(users=[("alice", "pw")])


def test_a_profile_that_cannot_apply_changes_nothing(tmp_path):
    path = write(tmp_path, HEAD + "settings:\n  catalog: {value: false, source: 'https://x.example'}\n"
                 "extensions:\n  - {builtin: history, source: 'https://x.example'}\n")
    registry = Registry()
    registry.extensions.enable("history")
    with pytest.raises(profiles.ProfileError, match="already serves the history extension"):
        profiles.load(path).apply(registry)
    assert registry.settings.catalog is True and registry.profile is None


def test_profile_names_may_hold_dots(tmp_path):
    path = write(tmp_path, "profile: 1\nname: registry-2.8\ntitle: T\n", name="registry-2.8.yaml")
    assert profiles.load(path).name == "registry-2.8"


def test_a_registry_takes_one_profile():
    registry = Registry(profile=str(PUSH_NEEDS_REPO))
    profiles.load(PUSH_NEEDS_REPO).apply(registry)                    # the same again: nothing changes
    assert len(error_rules.layer_of(registry).rules()) == 1
    with pytest.raises(profiles.ProfileError, match="already behaves like profile 'push-needs-repo'"):
        profiles.load(PUBLIC_BEARER).apply(registry)


def test_everything_a_profile_holds_is_seen_by_clients():
    registry = Registry(profile=str(PUBLIC_BEARER))
    client = Client(registry)
    challenge = client.get("/v2/", base_url="https://reg.test").headers["WWW-Authenticate"]
    assert challenge == 'Bearer realm="https://reg.test/v2/token",service="registry.test"'
    token = client.get("/v2/token?service=registry.test&scope=repository:any/thing:pull").json["token"]
    auth = {"Authorization": f"Bearer {token}"}
    catalog = client.get("/v2/_catalog", headers=auth)
    assert catalog.status_code == 401 and catalog.json["errors"][0]["code"] == "UNAUTHORIZED"
    missing = client.get("/v2/any/thing/manifests/1.0", headers=auth)
    assert missing.status_code == 404 and missing.headers["X-Test-Profile"] == "public-bearer"
    assert missing.headers["ratelimit-limit"] == "3;w=60"
    client.get("/v2/any/thing/manifests/1.0", headers=auth)
    client.get("/v2/any/thing/manifests/1.0", headers=auth)
    assert client.get("/v2/any/thing/manifests/1.0", headers=auth).status_code == 429
    assert registry.extensions.get("_oci") is not None


def test_a_scenario_names_a_profile_and_its_own_settings_win(tmp_path):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "p.yaml").write_text(PUSH_NEEDS_REPO.read_text())
    path = write(tmp_path, """\
        version: 1
        profile: profiles/p.yaml
        settings: {tags_page_max: 7}
        error_rules:
          - when: {code: MANIFEST_UNKNOWN}
            answer: {message: gone}
        header_rules:
          - {add: {X-Scenario: "yes"}}
        repositories:
          team/app: {}
        """, name="s.yaml")
    scenario = Scenario.load(path)
    assert scenario.profile.name == "push-needs-repo"
    registry = Registry()
    scenario.apply(registry)
    assert registry.profile.name == "push-needs-repo" and registry.settings.tags_page_max == 7
    registry.disable_auth()
    client = Client(registry)
    assert client.post("/v2/team/app/blobs/uploads/").status_code == 202
    missing = client.get("/v2/team/app/manifests/1.0")
    assert missing.json["errors"][0]["message"] == "gone" and missing.headers["X-Scenario"] == "yes"


def test_a_scenario_profile_mistake_points_at_the_scenario(tmp_path):
    path = write(tmp_path, "version: 1\nprofile: nope\n", name="s.yaml")
    with pytest.raises(ScenarioError, match=r"s\.yaml:2:\d+: profile: no profile named 'nope'"):
        Scenario.load(path)
    outside = write(tmp_path, "version: 1\nprofile: ../p.yaml\n", name="s2.yaml")
    with pytest.raises(ScenarioError, match="outside the scenario's directory"):
        Scenario.load(outside)


def test_a_scenario_with_another_profile_than_the_registry_is_refused_and_changes_nothing(tmp_path):
    (tmp_path / "p.yaml").write_text(PUBLIC_BEARER.read_text())
    path = write(tmp_path, "version: 1\nprofile: p.yaml\nrepositories:\n  a/b: {}\n", name="s.yaml")
    registry = Registry(profile=str(PUSH_NEEDS_REPO))
    with pytest.raises(ScenarioError, match="already behaves like profile 'push-needs-repo'"):
        Scenario.load(path).apply(registry)
    assert registry.repositories() == []


def test_the_control_api_tells_which_profile_is_in_use():
    client = Client(Registry(control_api=True))
    assert client.get("/_mockreg/profile").json == {"name": None}
    registry = Registry(control_api=True, profile=str(PUBLIC_BEARER))
    registry.enable_auth(profiles.load(PUBLIC_BEARER).auth_config([full_rights_user("admin", "pw")]))
    shown = Client(registry).get("/_mockreg/profile", headers=basic("admin", "pw")).json
    assert shown["name"] == "public-bearer" and shown["title"].startswith("Test profile")
    assert shown["behaviours"][0] == {"key": "settings.catalog", "value": False,
                                      "sources": ["https://distribution.github.io/distribution/spec/api/"],
                                      "note": ""}


def test_a_control_reset_keeps_the_profiles_rate_limits():
    registry = Registry(control_api=True, profile=str(PUBLIC_BEARER))
    registry.disable_auth()
    client = Client(registry)
    assert client.post("/_mockreg/reset").status_code == 200
    assert client.get("/v2/a/manifests/x").headers["ratelimit-limit"] == "3;w=60"


def test_the_unittest_api_takes_a_profile():
    from mockreg.session import MockRegistry

    with MockRegistry(requests=True, profile=str(PUSH_NEEDS_REPO), settings={"tags_page_max": 4}) as mocked:
        assert mocked.registry.profile.name == "push-needs-repo"
        assert mocked.registry.settings.tags_page_max == 4
        import requests

        assert requests.post(f"{mocked.url}/v2/a/blobs/uploads/").status_code == 401


def test_immutable_tags_may_be_a_list_of_globs():
    assert Registry(immutable_tags=["v*", "release-*"]).settings.immutable_tags == "v*, release-*"


# -- the command line ----------------------------------------------------------------------------------------
def test_profiles_list_and_show(capsys):
    assert main(["profiles", "list"]) == 0
    assert "strict-spec" in capsys.readouterr().out
    assert main(["profiles", "show", str(PUSH_NEEDS_REPO)]) == 0
    shown = capsys.readouterr().out
    assert "settings.repository_must_exist = true" in shown and f"source: {SPEC}#push" in shown
    assert "not emulated: repositories created by an API of their own" in shown
    assert main(["profiles", "show", str(PUSH_NEEDS_REPO), "--json"]) == 0
    assert '"name": "push-needs-repo"' in capsys.readouterr().out
    assert main(["profiles", "show", "nope"]) == 2
    assert "no profile named 'nope'" in capsys.readouterr().err


def serve_registry(argv):
    """The registry `mockreg serve ARGV` would serve, without listening."""
    import argparse

    from mockreg.cli import build_parser, serve

    args = build_parser().parse_args(["serve", *argv])
    assert isinstance(args, argparse.Namespace)
    return serve._registry(args, serve._Messages("text"))


def test_serve_profile_user_may_do_everything_under_basic(capsys):
    registry = serve_registry(["--profile", str(PUSH_NEEDS_REPO), "--user", "alice:secret"])
    assert "behaving like push-needs-repo (Test profile - pushes need a created repository, Basic auth); " \
           "basic auth: alice may do everything" in capsys.readouterr().err
    serve_registry(["--profile", str(PUSH_NEEDS_REPO)])
    assert "only anonymous access until you add --user NAME:PASSWORD" in capsys.readouterr().err
    client = Client(registry)
    assert client.get("/v2/").status_code == 401
    assert client.get("/v2/", headers=basic("alice", "wrong")).status_code == 401
    registry.create_repository("team/app")
    assert client.post("/v2/team/app/blobs/uploads/", headers=basic("alice", "secret")).status_code == 202


def test_serve_profile_without_auth_gives_user_basic_auth_or_the_auth_asked_for(capsys):
    registry = serve_registry(["--profile", "strict-spec", "--user", "alice:secret"])
    assert registry.auth.config.scheme == "basic"
    assert "no auth of its own: basic auth for alice" in capsys.readouterr().err
    client = Client(registry)
    assert client.post("/v2/a/blobs/uploads/").status_code == 401
    assert client.post("/v2/a/blobs/uploads/", headers=basic("alice", "secret")).status_code == 202
    bearer = serve_registry(["--profile", "strict-spec", "--auth", "bearer", "--user", "alice:secret"])
    assert bearer.auth.config.scheme == "bearer"


def test_serve_profile_user_logs_in_through_the_profiles_token_flow():
    registry = serve_registry(["--profile", str(PUBLIC_BEARER), "--user", "alice:secret"])
    client = Client(registry)
    challenge = client.post("/v2/team/app/blobs/uploads/").headers["WWW-Authenticate"]
    assert 'realm="http://localhost/v2/token"' in challenge and 'scope="repository:team/app:pull,push"' in challenge
    token = client.get("/v2/token?service=registry.test&scope=repository:team/app:pull,push",
                       headers=basic("alice", "secret")).json["token"]
    started = client.post("/v2/team/app/blobs/uploads/", headers={"Authorization": f"Bearer {token}"})
    assert started.status_code == 202
    anonymous = client.get("/v2/token?service=registry.test&scope=repository:team/app:pull,push").json["token"]
    refused = client.post("/v2/team/app/blobs/uploads/", headers={"Authorization": f"Bearer {anonymous}"})
    assert refused.status_code == 401


@pytest.mark.parametrize("argv, message", [
    (["--profile", "nope"], "--profile: no profile named 'nope'"),
    (["--profile", str(PUSH_NEEDS_REPO), "--auth", "bearer", "--user", "a:b"], "brings its own auth (basic)"),
    (["--profile", str(PUSH_NEEDS_REPO), "--anonymous", "x=pull"], "drop --anonymous"),
    (["--profile", str(PUSH_NEEDS_REPO), "--user", "a"], "--user takes NAME:PASSWORD"),
])
def test_serve_profile_mistakes_are_one_line(capsys, argv, message):
    assert main(["serve", "--port", "0", *argv]) == 2
    assert message in capsys.readouterr().err
