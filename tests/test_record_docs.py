"""docs/record.md's examples run, in order, in one namespace, in a scratch directory; the
recorded file replays under the pytest marker; the command's options are the ones documented."""

from __future__ import annotations

import re
from pathlib import Path

from doc_examples import run_page

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "record.md"
pytest_plugins = ["pytester"]


def test_every_python_example_in_the_record_doc_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = run_page(PAGE, minimum=5)
    assert namespace["recorded_answers"][1:] == (202, 404)


def test_every_option_of_the_command_is_documented():
    from mockreg.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    options = {option for action in commands["record"]._actions for option in action.option_strings
               if option.startswith("--") and option != "--help"}
    documented = set(re.findall(r"^\| `(--[a-z-]+)", PAGE.read_text(), flags=re.M))
    documented |= set(re.findall(r"^\| `--[a-z-]+ [A-Z]+`, `(--[a-z-]+)", PAGE.read_text(), flags=re.M))
    assert options == documented


def test_a_recording_replays_under_the_pytest_marker(run, pytester, tmp_path, monkeypatch):
    monkeypatch.chdir(pytester.path)
    run_page(PAGE, minimum=5)  # writes recorded.yaml and recorded.layout/ here
    pytester.makepyfile(test_replayed="""
        import pytest
        import requests

        @pytest.mark.mockreg(scenario="recorded.yaml")
        def test_the_client_meets_the_recorded_answers(mockreg_server):
            url = mockreg_server.url
            manifest = requests.get(f"{url}/v2/team/app/manifests/1.0",
                                    headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
            assert manifest.status_code == 200
            digest = manifest.headers["Docker-Content-Digest"]
            layer = manifest.json()["layers"][0]["digest"]
            assert requests.post(f"{url}/v2/team/copy/blobs/uploads/?mount={layer}&from=team/app").status_code == 202
            assert requests.get(f"{url}/v2/team/app/referrers/{digest}").status_code == 404
    """)
    run().assert_outcomes(passed=1)
