"""The compatibility table's script keeps working, and skopeo — a real client — logs in, pushes
and pulls under every profile through `mockreg serve --profile NAME --user USER:PASSWORD`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import required_tool

from mockreg import profiles

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import compat_table  # noqa: E402


def test_the_table_script_runs_one_profile_with_one_client():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "compat_table.py"), "--profiles", "ecr",
                           "--clients", "requests", "--json"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)["ecr"]["requests"]
    assert {operation: state for operation, (state, _) in row.items()} == dict.fromkeys(row, "ok")


@pytest.mark.parametrize("name", profiles.names())
def test_skopeo_logs_in_pushes_and_pulls_under_every_profile(name, tmp_path):
    required_tool("skopeo")
    row = compat_table.run_profile(name, ["skopeo"], tmp_path)["skopeo"]
    for operation in ("login", "push", "pull", "tags"):
        assert row[operation] == ("ok", None), (operation, row[operation])


def test_the_committed_table_covers_every_profile_and_client():
    page = (ROOT / "docs" / "profiles.md").read_text(encoding="utf-8")
    table = page.split(compat_table.BEGIN, 1)[1].split(compat_table.END, 1)[0]
    rows = [line.split("|")[1:3] for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    seen = {(profile.strip(), client.strip()) for profile, client in rows[1:]}
    clients = {client for _, client in seen}
    assert {"skopeo", "podman", "oras-py", "python-dxf", "requests", "httpx"} <= clients
    assert {profile for profile, _ in seen} == set(profiles.names())
    assert len(seen) == len(profiles.names()) * len(clients)
