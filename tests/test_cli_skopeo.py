"""`mockreg serve` driven end to end by skopeo, a real client from Debian's packages, over plain
http and over TLS with the CA `--tls self-signed` made. The skopeo commands are the ones
docs/cli.md and the README show, run as written (only the port and the CA directory differ)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import List

import pytest
import requests
from cli_helpers import required_tool, serve_processes

from mockreg import Registry
from mockreg.layout import export_layout, import_layout
from mockreg.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "fixtures" / "quickstart.yaml"
DOC_HOST, DOC_CERT_DIR = "localhost:5000", "~/.cache/mockreg/tls"

@pytest.fixture
def serve():
    with serve_processes() as start:
        yield start



def skopeo_commands(document: Path) -> List[str]:
    """Every `skopeo …` line inside the page's ```sh blocks."""
    blocks = re.findall(r"```sh\n(.*?)```", document.read_text(), re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip().startswith("skopeo ")]


def uses_tls(command: str) -> bool:
    return "cert-dir" in command


def run_skopeo(skopeo: str, command: str, host_port: str, cert_dir: Path, cwd: Path) -> str:
    argv = shlex.split(command.replace(DOC_HOST, host_port).replace(DOC_CERT_DIR, str(cert_dir)))
    if not Path("/etc/containers/policy.json").exists():
        argv.insert(1, "--insecure-policy")  # a machine without containers-common's default policy
    result = subprocess.run([skopeo, *argv[1:]], capture_output=True, text=True, cwd=cwd, timeout=120)
    assert result.returncode == 0, f"{command}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def skopeo() -> str:
    return required_tool("skopeo")


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario.load(QUICKSTART)


def check_outputs(command: str, output: str, scenario: Scenario) -> None:
    if " inspect " in f" {command} ":
        assert json.loads(output)["Digest"] == scenario.digest("demo/app:1.0")
    if " list-tags " in f" {command} ":
        assert json.loads(output)["Tags"] == ["0.9", "1.0", "latest"]


def layer_digests(url: str, repository: str, reference: str, **options) -> List[str]:
    answer = requests.get(f"{url}/v2/{repository}/manifests/{reference}", **options,
                          headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    assert answer.status_code == 200, answer.text
    return [layer["digest"] for layer in answer.json()["layers"]]


def test_docs_show_skopeo_over_http_and_tls():
    commands = skopeo_commands(ROOT / "docs" / "cli.md")
    for verb in ("inspect", "list-tags", "copy"):
        assert any(verb in c and not uses_tls(c) for c in commands), verb
        assert any(verb in c and uses_tls(c) for c in commands), verb
    assert any(not uses_tls(c) for c in skopeo_commands(ROOT / "README.md"))
    assert any(uses_tls(c) for c in skopeo_commands(ROOT / "README.md"))


def test_skopeo_over_plain_http(skopeo, scenario, serve, tmp_path):
    served = serve("--scenario", str(QUICKSTART), "--quiet")
    for document in (ROOT / "docs" / "cli.md", ROOT / "README.md"):
        for command in skopeo_commands(document):
            if not uses_tls(command):
                check_outputs(command, run_skopeo(skopeo, command, served.host_port, tmp_path, tmp_path), scenario)
    layers = [layer.digest for layer in scenario.content("demo/app:1.0").layers]
    assert layer_digests(served.url, "copies/app", "1.0") == layers  # copied in from the layout copied out
    pulled = import_layout(Registry(), tmp_path / "demo-app", "pulled/app")
    assert pulled.tags == {"1.0": scenario.digest("demo/app:1.0")}


def test_skopeo_over_tls_trusting_the_generated_ca(skopeo, scenario, serve, tmp_path):
    certs = tmp_path / "certs"
    served = serve("--scenario", str(QUICKSTART), "--quiet", "--tls", "self-signed", "--tls-dir", str(certs))
    assert served.url.startswith("https://")
    assert sorted(p.name for p in certs.iterdir()) == ["ca.crt", "private"]  # usable as --cert-dir as it is
    assert any(f"--cert-dir {certs}" in line for line in served.stderr_lines)  # the hint it printed
    host_port = served.host_port.replace("127.0.0.1", "localhost")  # the certificate names both
    untrusted = subprocess.run([skopeo, "inspect", f"docker://{host_port}/demo/app:1.0"], capture_output=True,
                               text=True, timeout=120)
    assert untrusted.returncode != 0 and "certificate" in untrusted.stderr
    # the layout the TLS copy pushes comes from the http commands' copy out; make it here
    run_skopeo(skopeo, f"skopeo copy --src-cert-dir {DOC_CERT_DIR} docker://{DOC_HOST}/demo/app:1.0 "
                       "oci:demo-app:1.0", host_port, certs, tmp_path)
    for document in (ROOT / "docs" / "cli.md", ROOT / "README.md"):
        for command in skopeo_commands(document):
            if uses_tls(command):
                check_outputs(command, run_skopeo(skopeo, command, host_port, certs, tmp_path), scenario)
    layers = [layer.digest for layer in scenario.content("demo/app:1.0").layers]
    assert layer_digests(served.url, "copies/app", "tls", verify=str(certs / "ca.crt")) == layers
    pulled = import_layout(Registry(), tmp_path / "from-tls", "pulled/app")
    assert pulled.tags == {"1.0": scenario.digest("demo/app:1.0")}


@pytest.mark.parametrize("profile", ["push-needs-repo.yaml", "public-bearer.yaml"])
def test_skopeo_logs_in_under_a_profiles_own_auth_with_serve_user(skopeo, scenario, serve, tmp_path, profile):
    """`mockreg serve --profile P --user U:PW`: a real client pushes and pulls with those credentials,
    through Basic or through the profile's token realm (test profiles: tests/profiles/)."""
    layout = tmp_path / "layout"
    source = Registry()
    scenario.apply(source)
    export_layout(source, layout, "demo/app")
    served = serve("--profile", str(Path(__file__).parent / "profiles" / profile), "--user", "alice:secret",
                   "--control-api", "--quiet")
    requests.post(f"{served.url}/_mockreg/repositories", json={"name": "team/app"}, auth=("alice", "secret"))
    policy = [] if Path("/etc/containers/policy.json").exists() else ["--insecure-policy"]
    copy = [skopeo, *policy, "copy", "--dest-tls-verify=false", "--dest-creds", "alice:secret",
            f"oci:{layout}:1.0", f"docker://{served.host_port}/team/app:1.0"]
    pushed = subprocess.run(copy, capture_output=True, text=True, timeout=120)
    assert pushed.returncode == 0, pushed.stderr
    inspect = [skopeo, "inspect", "--tls-verify=false", "--creds", "alice:secret",
               f"docker://{served.host_port}/team/app:1.0"]
    shown = subprocess.run(inspect, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["Digest"] == scenario.digest("demo/app:1.0")
    wrong = subprocess.run([*inspect[:4], "alice:wrong", inspect[-1]], capture_output=True, text=True, timeout=120)
    assert wrong.returncode != 0
