"""The `mockreg …` commands docs/cli.md and the README show, run as written: serve lines parse
(and their auth options build), seed/export/scenario lines run against live servers, and the
table the page prints is what `scenario show` prints."""

from __future__ import annotations

import glob
import re
import shlex
from pathlib import Path
from typing import List

import pytest
from cli_helpers import serve_processes

from mockreg.cli import build_parser, main
from mockreg.cli.auth_options import auth_config

ROOT = Path(__file__).resolve().parent.parent
PAGES = (ROOT / "docs" / "cli.md", ROOT / "README.md")
CA_DIR = "~/.cache/mockreg/tls"


def mockreg_lines(page: Path) -> List[List[str]]:
    """argv of each `mockreg …` line in the page's ```sh blocks, comments and a trailing & dropped."""
    blocks = re.findall(r"```sh\n(.*?)```", page.read_text(), re.S)
    lines = [line for block in blocks for line in block.splitlines() if line.startswith("mockreg ")]
    return [[word for word in shlex.split(line, comments=True)[1:] if word != "&"] for line in lines]


@pytest.fixture
def serve():
    with serve_processes() as start:
        yield start


def test_serve_lines_parse_and_their_auth_options_build():
    lines = [argv for page in PAGES for argv in mockreg_lines(page) if argv[0] == "serve"]
    assert len(lines) >= 5
    for argv in lines:
        args = build_parser().parse_args(argv)
        if args.auth in ("basic", "bearer"):
            assert auth_config(args.auth, args.user, args.anonymous).scheme == args.auth


def test_seed_export_and_scenario_lines_run(serve, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # where ./demo-app and demo-app.tar land
    plain = serve("--quiet")
    tls = serve("--quiet", "--tls", "self-signed", "--tls-dir", str(tmp_path / "tls"))
    placeholders = []
    for argv in mockreg_lines(ROOT / "docs" / "cli.md"):
        if argv[0] == "serve":
            continue
        argv = [word.replace("127.0.0.1:5000", plain.host_port).replace("localhost:5000", tls.host_port)
                .replace(CA_DIR, str(tmp_path / "tls")) for word in argv]
        argv = [str(ROOT / word) if word.startswith("fixtures/") else word for word in argv]
        argv = [match for word in argv for match in (sorted(glob.glob(word)) if "*" in word else [word])]
        if any(word.endswith(".yaml") and not Path(word).exists() for word in argv):
            placeholders.append(argv)  # an example of the shape, with files of the reader's own
            continue
        assert main(argv) == 0, (argv, capsys.readouterr().err)
    assert [argv[:3] for argv in placeholders] == [["seed", "--scenario", "base.yaml"]]
    out = capsys.readouterr().out
    assert f"seeded {plain.url}: 2 repositories, 3 manifests, 4 tags" in out
    assert f"seeded {tls.url}: 1 repository, 7 manifests, 3 tags" in out
    assert (tmp_path / "demo-app" / "index.json").is_file() and (tmp_path / "demo-app.tar").is_file()
    assert "quickstart.yaml: ok (2 repositories, 3 manifests, 4 tags)" in out


def test_the_show_table_on_the_page_is_what_show_prints(capsys):
    page = (ROOT / "docs" / "cli.md").read_text()
    shown = re.search(r"table:\n\n```\n(.*?)```", page, re.S).group(1)
    assert main(["scenario", "show", str(ROOT / "fixtures" / "quickstart.yaml")]) == 0
    assert capsys.readouterr().out.split("\n\n", 1)[1] == shown
