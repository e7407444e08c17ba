"""`mockreg` called as `main([...])`: help, one-line errors and exit codes, scenario tools, and
`serve` run in this process until a real SIGTERM stops it."""

from __future__ import annotations

import argparse
import json
import re
import socket
from pathlib import Path

import pytest
import requests
from cli_helpers import serve_in_process

from mockreg.cli import build_parser, main
from mockreg.cli import serve as serve_command
from mockreg.scenario import Scenario

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
QUICKSTART = FIXTURES / "quickstart.yaml"
BAD_SCENARIO = "version: 1\nrepositories:\n  demo/app:\n    images:\n      - tags: [1.0]\n"


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield sub
                yield from _subparsers(sub)


def test_every_command_help_explains_each_option_and_shows_examples(capsys):
    parser = build_parser()
    for command in [parser, *_subparsers(parser)]:
        argv = command.prog.split()[1:] + ["--help"]
        assert main(argv) == 0, argv
        shown = capsys.readouterr().out
        assert "examples:" in shown, command.prog
        for action in command._actions:
            if action.option_strings and "--help" not in action.option_strings:
                assert action.help, f"{command.prog} {action.option_strings} has no help"
                assert action.option_strings[0] in shown
                if action.nargs != 0:  # an option taking a value shows one in use
                    assert "e.g." in action.help or action.choices, f"{command.prog} {action.option_strings}"


@pytest.mark.parametrize("argv, message", [
    (["serve", "--bogus"], "mockreg serve: error: unrecognized arguments: --bogus (see mockreg serve --help)"),
    (["serve", "--port", "99999"], "mockreg serve: error: argument --port: expected a port number from 0 to 65535"),
    (["serve", "--log-format", "xml"], "mockreg serve: error: argument --log-format: invalid choice: 'xml'"),
    ([], "mockreg: error: the following arguments are required: COMMAND"),
    (["scenario"], "mockreg scenario: error: the following arguments are required"),
    (["seed", "--scenario", "x.yaml"], "mockreg seed: error: the following arguments are required: --to"),
    (["seed", "--scenario", str(QUICKSTART), "--to", "localhost:5000"],
     "mockreg: error: expected a registry URL such as http://127.0.0.1:5000, got 'localhost:5000'"),
    (["seed", "--scenario", str(QUICKSTART), "--to", "http://x", "--chunk-size", "lots"],
     "mockreg seed: error: argument --chunk-size: expected a size such as 8MiB"),
    (["serve", "--set", "referers=false"], "mockreg: error: --set: unknown setting 'referers'"),
    (["serve", "--set", "referrers"], "mockreg: error: --set: takes SWITCH=VALUE, got 'referrers'"),
    (["serve", "--user", "a:b"], "mockreg: error: --user and --anonymous need --auth basic or --auth bearer"),
    (["serve", "--auth", "basic"], "mockreg: error: --auth basic needs at least one --user"),
    (["serve", "--auth", "nothing.yaml"], "mockreg: error: --auth takes basic, bearer or a YAML/JSON file"),
    (["serve", "--auth", "basic", "--user", "alice"], "mockreg: error: --user takes NAME:PASSWORD"),
    (["serve", "--auth", "basic", "--anonymous", "demo/*"], "mockreg: error: a grant is GLOB=ACTIONS"),
    (["serve", "--auth", "basic", "--user", "a:b:demo/*=fly"], "mockreg: error: --auth: user 'a' access"),
    (["serve", "--cert", "server.crt"], "mockreg: error: --cert and --key go together"),
    (["serve", "--tls", "self-signed", "--cert", "a", "--key", "b"], "mockreg: error: choose --tls self-signed or"),
    (["serve", "--tls-dir", "certs"], "mockreg: error: --tls-dir goes with --tls self-signed"),
    (["serve", "--cert", "missing.crt", "--key", "missing.key"],
     "mockreg: error: certificate file missing.crt does not exist"),
    (["export", str(QUICKSTART), "--repo", "nope", "--to", "out"],
     f"mockreg: error: {QUICKSTART} has no repository 'nope' (it has: demo/app, demo/tools)"),
    (["export", "localhost:5000", "--repo", "demo/app", "--to", "out"],
     "mockreg: error: 'localhost:5000' is no file; give a registry as a URL with its scheme"),
])
def test_bad_usage_is_one_line_and_exit_code_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(message), err
    assert "Traceback" not in err


def test_bad_scenario_names_file_line_and_key_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_SCENARIO)
    assert main(["serve", "--port", "0", "--scenario", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == f"mockreg: error: {bad}:5:16: repositories.demo/app.images[0].tags[0]: expected a tag " \
                  "([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}), found the number 1.0\n"


def test_port_in_use_is_a_failure_exit_1(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    assert capsys.readouterr().err == f"mockreg: error: cannot listen on 127.0.0.1:{port}: Address already in use\n"


# -- scenario check / show ---------------------------------------------------------------------

def test_scenario_check_reports_each_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_SCENARIO)
    assert main(["scenario", "check", str(QUICKSTART)]) == 0
    assert capsys.readouterr().out == f"{QUICKSTART}: ok (2 repositories, 3 manifests, 4 tags)\n"
    assert main(["scenario", "check", str(bad), str(QUICKSTART), str(tmp_path / "none.yaml")]) == 2
    out, err = capsys.readouterr()
    assert out == f"{QUICKSTART}: ok (2 repositories, 3 manifests, 4 tags)\n"
    assert err.splitlines() == [
        f"mockreg: error: {bad}:5:16: repositories.demo/app.images[0].tags[0]: expected a tag "
        "([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}), found the number 1.0",
        f"mockreg: error: {tmp_path / 'none.yaml'}: (top level): the file does not exist"]


def test_scenario_check_applies_the_file_so_late_errors_count_too(tmp_path, capsys):
    broken_layout = tmp_path / "layout.yaml"
    broken_layout.write_text("version: 1\nrepositories:\n  demo/app:\n    layouts:\n      - path: missing-layout\n")
    assert main(["scenario", "check", str(broken_layout)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mockreg: error: {broken_layout}:5:") and "missing-layout" in err


def test_scenario_show_lists_repositories_tags_digests_and_sizes(capsys):
    assert main(["scenario", "show", str(FIXTURES / "multi-arch.yaml")]) == 0
    lines = capsys.readouterr().out.splitlines()
    scenario = Scenario.load(FIXTURES / "multi-arch.yaml")
    assert lines[0] == scenario.description.strip()
    header = lines[2].split()
    assert header == ["REPOSITORY", "NAME", "TAGS", "KIND", "SIZE", "DIGEST"]
    rows = [line.split() for line in lines[3:]]
    assert [(row[0], row[-1]) for row in rows] == [(r["repository"], r["digest"]) for r in scenario.summary()]
    by_digest = {row[-1]: row for row in rows}
    index = by_digest[scenario.digest("demo/multi:1.0")]
    assert index[3] == "index" and "1.0" in index[2].split(",")
    image = scenario.content("demo/multi:1.0").manifests[0]
    assert by_digest[image.digest][2] == "-"  # an index child has no tag of its own
    size = len(image.manifest) + sum(blob.size for blob in image.blobs)
    assert " ".join(by_digest[image.digest][4:6]) == (f"{size} B" if size < 1024 else f"{size / 1024:.1f} KiB")


# -- serve, in this process ---------------------------------------------------------------------

def test_serve_announces_logs_each_request_and_summarises_on_sigterm(tmp_path, capsys):
    scenario = Scenario.load(QUICKSTART)
    manifest_digest = scenario.digest("demo/app:1.0")
    ready = tmp_path / "url"
    seen = {}

    def talk(url: str) -> None:
        seen["url"] = url
        assert requests.get(f"{url}/v2/").status_code == 200
        answer = requests.get(f"{url}/v2/demo/app/manifests/1.0",
                              headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        seen["manifest_size"] = len(answer.content)
        assert requests.get(f"{url}/v2/nope/tags/list").status_code == 404

    assert serve_in_process(ready, ["--scenario", str(QUICKSTART)], talk) == 0
    out, err = capsys.readouterr()
    url = seen["url"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    assert out == f"mockreg serving on {url}\n"
    assert not ready.exists()  # removed on shutdown, so it never points at a dead server
    lines = err.splitlines()
    assert lines[0] == f"mockreg: loaded {QUICKSTART}: 2 repositories, 3 manifests"
    log = [line for line in lines if '"' in line]
    assert len(log) == 3
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z 127\.0\.0\.1"
    assert re.fullmatch(stamp + r' "GET /v2/ HTTP/1\.1" 200 2 \d+\.\d\dms', log[0])
    assert re.fullmatch(stamp + rf' "GET /v2/demo/app/manifests/1\.0 HTTP/1\.1" 200 {seen["manifest_size"]} '
                        rf"\d+\.\d\dms demo/app {manifest_digest}", log[1])
    assert re.fullmatch(stamp + r' "GET /v2/nope/tags/list HTTP/1\.1" 404 \d+ \d+\.\d\dms nope', log[2])
    contents = [scenario.content(f"{row['repository']}@{row['name']}") for row in scenario.summary()]
    blobs = {blob.digest: blob.size for image in contents for blob in image.blobs}
    held = sum(blobs.values()) + sum(len(image.manifest) for image in contents)
    assert lines[-1].startswith(f"mockreg: stopped: served 3 requests; held 2 repositories, 3 manifests, "
                                f"{len(blobs)} blobs, ")
    assert lines[-1].endswith(f"{held / 1024:.1f} KiB")


def test_serve_json_log_lines_carry_every_field(tmp_path, capsys):
    scenario = Scenario.load(QUICKSTART)
    layer = scenario.digest("demo/app:1.0", "layer", 0)

    def talk(url: str) -> None:
        requests.get(f"{url}/v2/demo/app/blobs/{layer}", headers={"User-Agent": "tester/1.0"})
        requests.head(f"{url}/v2/demo/app/manifests/1.0")

    assert serve_in_process(tmp_path / "url", ["--scenario", str(QUICKSTART), "--log-format", "json"], talk) == 0
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    loaded, stopped = records[0], records[-1]
    # a streamed blob is logged when its body is done, which may be after the next request
    blob, head = sorted(records[1:-1], key=lambda record: record["method"] != "GET")
    assert loaded["msg"] == f"loaded {QUICKSTART}: 2 repositories, 3 manifests" and loaded["level"] == "info"
    size = len(scenario.content("demo/app:1.0").layers[0].data)
    assert blob == {**blob, "remote": "127.0.0.1", "method": "GET", "path": f"/v2/demo/app/blobs/{layer}",
                    "status": 200, "bytes": size, "kind": "blob-get", "repository": "demo/app", "digest": layer,
                    "agent": "tester/1.0"}
    assert isinstance(blob["duration_ms"], float) and re.fullmatch(r"[\d-]+T[\d:.]+Z", blob["time"])
    assert head["method"] == "HEAD" and head["bytes"] == 0 and head["digest"] == scenario.digest("demo/app:1.0")
    assert stopped["requests"] == 2 and stopped["repositories"] == 2 and stopped["manifests"] == 3


def test_serve_quiet_logs_no_requests(tmp_path, capsys):
    def talk(url: str) -> None:
        assert requests.get(f"{url}/v2/").status_code == 200

    assert serve_in_process(tmp_path / "url", ["--quiet"], talk) == 0
    err = capsys.readouterr().err
    assert err == "mockreg: stopped: requests not counted (--quiet); held 0 repositories, 0 manifests, 0 blobs, 0 B\n"


def test_serve_settings_apply_after_scenarios(tmp_path, capsys):
    no_referrers = FIXTURES / "no-referrers-api.yaml"

    def talk(url: str) -> None:
        digest = Scenario.load(no_referrers).summary()[0]["digest"]
        # the scenario switches the referrers API off; --set switches it back on
        assert requests.get(f"{url}/v2/demo/legacy/referrers/{digest}").status_code == 200
        assert requests.delete(f"{url}/v2/demo/legacy/manifests/{digest}").status_code == 405

    repository = Scenario.load(no_referrers).summary()[0]["repository"]
    assert repository == "demo/legacy"
    options = ["--quiet", "--scenario", str(no_referrers), "--set", "referrers=true", "--set", "manifest_delete=off"]
    assert serve_in_process(tmp_path / "url", options, talk) == 0


def test_serve_basic_auth_from_user_grants(tmp_path, capsys):
    def talk(url: str) -> None:
        manifest = f"{url}/v2/demo/app/manifests/1.0"
        assert requests.get(manifest).status_code == 401
        assert requests.get(manifest, auth=("ci", "pw")).status_code == 200
        assert requests.post(f"{url}/v2/demo/app/blobs/uploads/", auth=("ci", "pw")).status_code == 403
        assert requests.post(f"{url}/v2/scratch/x/blobs/uploads/", auth=("ci", "pw")).status_code == 202
        assert requests.get(f"{url}/v2/demo/tools/tags/list").status_code == 200  # anonymous grant
        assert requests.get(f"{url}/v2/demo/app/tags/list", auth=("ci", "wrong")).status_code == 401

    options = ["--quiet", "--scenario", str(QUICKSTART), "--auth", "basic",
               "--user", "ci:pw:demo/app=pull;scratch/*=pull,push", "--anonymous", "demo/tools=pull"]
    assert serve_in_process(tmp_path / "url", options, talk) == 0


def test_serve_auth_from_a_file_and_conflict_with_scenario_auth(tmp_path, capsys):
    auth_file = tmp_path / "auth.yaml"
    auth_file.write_text("version: 1\nauth:\n  scheme: bearer\n  users:\n    - {name: alice, password: secret, "
                         "access: {'*': [pull]}}\n")

    def talk(url: str) -> None:
        answer = requests.get(f"{url}/v2/")
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"].startswith(f'Bearer realm="{url}/token"')
        token = requests.get(f"{url}/token", params={"service": "mockreg"}, auth=("alice", "secret"))
        assert token.status_code == 200

    assert serve_in_process(tmp_path / "url", ["--quiet", "--auth", str(auth_file)], talk) == 0
    capsys.readouterr()
    assert main(["serve", "--port", "0", "--scenario", str(auth_file), "--auth", "basic", "--user", "a:b"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == \
        "mockreg: error: auth comes from both --auth and a scenario's `auth:`; keep one of them"


def test_serve_warns_when_reachable_from_other_machines(tmp_path, capsys, monkeypatch):
    assert [serve_command._is_loopback(h) for h in ("127.0.0.1", "127.8.0.1", "::1", "localhost")] == [True] * 4
    assert [serve_command._is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.20", "myhost")] == [False] * 4
    monkeypatch.setattr(serve_command, "_is_loopback", lambda host: False)  # without binding a public address
    assert serve_in_process(tmp_path / "url", ["--quiet"], lambda url: None) == 0
    assert capsys.readouterr().err.splitlines()[0] == (
        "mockreg: warning: listening on 127.0.0.1: other machines can reach this registry, and without --auth "
        "anyone may push or delete")


def test_interrupting_a_command_is_exit_130(monkeypatch, capsys):
    from mockreg.cli import transfer

    def interrupted(registry, paths):
        raise KeyboardInterrupt

    monkeypatch.setattr(transfer, "load_scenarios", interrupted)
    assert main(["seed", "--scenario", str(QUICKSTART), "--to", "http://127.0.0.1:9"]) == 130
    assert capsys.readouterr().err == "mockreg: interrupted\n"
