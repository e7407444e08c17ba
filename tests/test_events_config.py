"""Configuring notifications with the reference registry's keys, from Python, scenario files,
the control API and `mockreg serve`; bad input is a clear error that changes nothing."""

from __future__ import annotations

import pytest
import requests
from cli_helpers import serve_in_process
from werkzeug.test import Client

from mockreg import Registry
from mockreg.events.config import parse_duration, parse_endpoint, parse_notifications
from mockreg.mapping import ConfigError
from mockreg.scenario import Scenario, ScenarioError

# distribution docs/content/about/configuration.md, "notifications", as a user would paste it
REFERENCE_SECTION = """\
notifications:
  events:
    includereferences: true
  endpoints:
    - name: alistener
      disabled: false
      url: https://my.listener.com/event
      headers:
        Authorization: [Bearer <your token, if needed>]
      timeout: 1s
      threshold: 10
      backoff: 1s
      ignoredmediatypes:
        - application/octet-stream
      ignore:
        mediatypes:
           - application/octet-stream
        actions:
           - pull
"""


def test_the_reference_example_parses_as_written() -> None:
    import yaml

    config = parse_notifications(yaml.safe_load(REFERENCE_SECTION)["notifications"])
    assert config.include_references is True
    (endpoint,) = config.endpoints
    assert (endpoint.name, endpoint.url, endpoint.timeout, endpoint.threshold, endpoint.backoff) == \
        ("alistener", "https://my.listener.com/event", 1.0, 10, 1.0)
    # YAML reads the documented flow list `[Bearer <your token, if needed>]` as two values, so the
    # reference registry sends two Authorization lines for it too; a block list keeps the comma.
    assert endpoint.headers == (("Authorization", "Bearer <your token"), ("Authorization", "if needed>"))
    assert endpoint.ignored_media_types == {"application/octet-stream"}
    assert endpoint.ignored_actions == {"pull"}
    assert endpoint.ignores("pull", "application/vnd.oci.image.manifest.v1+json")
    assert endpoint.ignores("push", "application/octet-stream")
    assert not endpoint.ignores("push", "application/vnd.oci.image.manifest.v1+json")


def test_defaults_follow_endpoint_go() -> None:
    endpoint = parse_endpoint({"name": "a", "url": "http://127.0.0.1:9/x"})
    assert (endpoint.timeout, endpoint.threshold, endpoint.backoff) == (1.0, 10, 1.0)
    zeroes = parse_endpoint({"name": "a", "url": "http://127.0.0.1:9/x", "timeout": 0, "threshold": 0, "backoff": "0s"})
    assert (zeroes.timeout, zeroes.threshold, zeroes.backoff) == (1.0, 10, 1.0)  # <= 0 means the default


@pytest.mark.parametrize("text, seconds", [("500ms", 0.5), ("1m30s", 90.0), ("2h", 7200.0), ("250us", 0.00025),
                                           ("1500000000", 1.5), (1500000000, 1.5), (0.25, 0.25)])
def test_go_durations(text, seconds) -> None:
    assert parse_duration(text, "timeout") == pytest.approx(seconds)


@pytest.mark.parametrize("endpoint, message", [
    ({"name": "a"}, "endpoint.url must be an http:// or https:// URL"),
    ({"name": "a", "url": "ftp://x"}, "endpoint.url must be an http:// or https:// URL"),
    ({"name": "a", "url": "http://x", "timeout": "soon"}, "endpoint.timeout must be a duration"),
    ({"name": "a", "url": "http://x", "threshold": -1}, "endpoint.threshold must be a whole number"),
    ({"name": "a", "url": "http://x", "ignore": {"actions": ["pul"]}}, "unknown action(s) pul"),
    ({"name": "a", "url": "http://x", "headers": {"X": 1}}, "endpoint.headers.X must be a list of strings"),
    ({"name": "a", "url": "http://x", "urls": []}, "unknown key(s) urls; known keys: name, disabled, url"),
    ({"name": "a", "url": "http://x", "format": "xml"}, "endpoint.format must be one of distribution"),
])
def test_bad_endpoints_name_the_key(endpoint, message) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_endpoint(endpoint)
    assert message in str(raised.value)


def test_disabled_endpoints_are_skipped_and_duplicates_refused(registry: Registry) -> None:
    added = registry.notifications.configure({"endpoints": [
        {"name": "on", "url": "http://127.0.0.1:9/a"},
        {"name": "off", "url": "http://127.0.0.1:9/b", "disabled": True}]})
    assert [e.name for e in added] == ["on"] and [e.name for e in registry.notifications.endpoints] == ["on"]
    with pytest.raises(ValueError, match="'on' is already configured"):
        registry.notifications.configure({"endpoints": [{"name": "on", "url": "http://127.0.0.1:9/c"}]})
    with pytest.raises(ConfigError, match="two endpoints are named 'x'"):
        parse_notifications({"endpoints": [{"name": "x", "url": "http://a"}, {"name": "x", "url": "http://b"}]})


def test_a_scenario_takes_the_pasted_section(tmp_path, registry: Registry) -> None:
    path = tmp_path / "notify.yaml"
    path.write_text("version: 1\n" + REFERENCE_SECTION + "  pythonapi: true\n")
    Scenario.load(path).apply(registry)
    (endpoint,) = registry.notifications.endpoints
    assert endpoint.name == "alistener" and registry.notifications.include_references
    assert registry.notifications.python_api is True


def test_a_bad_scenario_says_file_line_and_key_and_changes_nothing(tmp_path, registry: Registry) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nnotifications:\n  endpoints:\n    - {name: a, url: 'http://x', backoff: later}\n")
    with pytest.raises(ScenarioError) as raised:
        Scenario.load(path)
    assert str(raised.value).startswith(f"{path}:4:")
    assert "notifications.endpoints[0].backoff: must be a duration" in str(raised.value)
    clash = tmp_path / "clash.yaml"
    clash.write_text("version: 1\nrepositories:\n  demo/app: {}\n"
                     "notifications:\n  endpoints:\n    - {name: a, url: 'http://127.0.0.1:9/x'}\n")
    registry.notifications.add_endpoint("http://127.0.0.1:9/y", name="a")
    with pytest.raises(ScenarioError, match="already has a notification endpoint 'a'"):
        Scenario.load(clash).apply(registry)
    assert registry.repositories() == []


def test_the_control_api_adds_lists_and_removes_endpoints() -> None:
    registry = Registry(control_api=True)
    client = Client(registry)
    added = client.post("/_mockreg/notifications", json={"name": "hook", "url": "http://127.0.0.1:9/hook",
                                                         "timeout": "250ms", "headers": {"X-Token": ["t0ken"]}})
    assert added.status_code == 201 and added.json == {"added": ["hook"]}
    many = client.post("/_mockreg/notifications", json={"endpoints": [{"name": "two", "url": "http://127.0.0.1:9/2"}]})
    assert many.json == {"added": ["two"]}
    listed = client.get("/_mockreg/notifications").json
    assert [e["name"] for e in listed["endpoints"]] == ["hook", "two"]
    assert listed["endpoints"][0]["timeout"] == "250ms" and "t0ken" not in str(listed)
    assert client.get("/_mockreg/notifications/hook").json["name"] == "hook"
    assert client.get("/_mockreg/notifications/none").status_code == 404
    bad = client.post("/_mockreg/notifications", json={"name": "bad", "url": "nowhere"})
    assert bad.status_code == 400 and "url must be an http://" in bad.json["errors"][0]["detail"]
    assert client.post("/_mockreg/notifications/hook", json={}).status_code == 405
    assert client.delete("/_mockreg/notifications/hook").json == {"removed": ["hook"]}
    assert client.delete("/_mockreg/notifications").json == {"removed": ["two"]}
    assert registry.notifications.endpoints == [] and registry.store.on_change is None


def test_serve_takes_notify_and_a_pasted_config_file(tmp_path) -> None:
    config = tmp_path / "config.yml"
    config.write_text("version: 0.1\nstorage: {inmemory: {}}\n" + REFERENCE_SECTION.replace(
        "https://my.listener.com/event", "http://127.0.0.1:9/event"))
    seen = {}

    def talk(url: str) -> None:
        seen["discover"] = requests.get(f"{url}/v2/_oci/ext/discover").json()

    code = serve_in_process(tmp_path / "ready", ["--quiet", "--notifications", str(config),
                                                 "--notify", "http://127.0.0.1:9/other"], talk)
    assert code == 0
    assert [e["name"] for e in seen["discover"]["extensions"]] == ["_events"]


def test_serve_refuses_a_bad_notifications_file(tmp_path, capsys) -> None:
    from mockreg.cli import main

    bad = tmp_path / "bad.yml"
    bad.write_text("notifications:\n  endpoints:\n    - {name: a, url: 'http://x', threshold: many}\n")
    assert main(["serve", "--port", "0", "--notifications", str(bad)]) == 2
    assert "endpoints[0].threshold must be a whole number" in capsys.readouterr().err
    assert main(["serve", "--port", "0", "--notify", "not-a-url"]) == 2
    assert "url must be an http:// or https:// URL" in capsys.readouterr().err
