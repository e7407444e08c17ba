"""Client checks (docs/client-checks.md): every rule's violating example is reported and its
compliant example is not; the journal, pytest and `mockreg serve --check-clients` all report the
issue's example (an OCI manifest PUT with `Content-Type: application/json`) as a MUST violation."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
import requests
from cli_helpers import required_tool, serve_in_process
from doc_examples import run_page

from mockreg import Registry
from mockreg.checks import BY_ID, RULES, ClientChecks, select
from mockreg.checks.catalogue import catalogue_markdown
from mockreg.checks.examples import EXAMPLES, ExampleClient
from mockreg.session import fresh_registry, journal_of

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "client-checks.md"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def run_example(rule_id: str, which: int):
    registry = fresh_registry(BY_ID[rule_id].settings)
    journal = journal_of(registry)
    journal.check_clients()
    EXAMPLES[rule_id][which](ExampleClient(registry))
    assert registry.server_errors == []
    return journal


@pytest.mark.parametrize("rule_id", sorted(BY_ID))
def test_violating_example_is_reported(rule_id):
    found = [v for v in run_example(rule_id, 0).violations() if v.rule.id == rule_id]
    assert found, f"{rule_id}'s violating example was not reported"
    assert all(v.requests and v.message for v in found)


@pytest.mark.parametrize("rule_id", sorted(BY_ID))
def test_compliant_example_is_not_reported(rule_id):
    assert [v.describe() for v in run_example(rule_id, 1).violations() if v.rule.id == rule_id] == []


def test_every_rule_has_a_source_examples_and_a_unique_id():
    assert len({rule.id for rule in RULES}) == len(RULES) == len(EXAMPLES)
    for rule in RULES:
        assert rule.source.strip() and rule.url.startswith("https://") and rule.doc.strip(), rule.id
        assert rule.level in ("MUST", "SHOULD", "INTEROP")
        levelled = {"MUST": "MUST", "SHOULD": "SHOULD"}.get(rule.level)
        if levelled and rule.url.split("#")[0].endswith("spec.md"):
            assert levelled in rule.source, f"{rule.id}: a {rule.level} rule quotes a {rule.level} sentence"


def test_selecting_and_ignoring_rules_by_id():
    assert [r.id for r in select(["OCI-C001", "OCI-C002"], ignore=["OCI-C002"])] == ["OCI-C001"]
    with pytest.raises(ValueError, match="OCI-C999"):
        ClientChecks(["OCI-C999"])


# -- the example, in all three places ----------------------------------------------------------
def bad_manifest_put(call) -> None:
    config = b"{}"
    digest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    call("POST", f"/v2/demo/app/blobs/uploads/?digest={digest}", config, {})
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": [],
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": digest, "size": 2}}).encode()
    return call("PUT", "/v2/demo/app/manifests/1.0", manifest, {"Content-Type": "application/json"})


def test_journal_reports_the_content_type_mismatch_whether_accepted_or_refused(mockreg_requests, mockreg_journal):
    mockreg_journal.check_clients()
    answer = bad_manifest_put(lambda m, p, body, headers: requests.request(
        m, mockreg_requests.url + p, data=body, headers=headers))
    assert answer.status_code in (201, 400)
    [violation] = mockreg_journal.violations("MUST")
    assert violation.rule.id == "OCI-C001"
    with pytest.raises(AssertionError) as failure:
        mockreg_journal.assert_client_compliant()
    text = str(failure.value)
    assert "OCI-C001" in text and "PUT /v2/demo/app/manifests/1.0" in text and BY_ID["OCI-C001"].source in text


def test_violations_need_checks_on(mockreg_journal):
    with pytest.raises(RuntimeError, match="check_clients"):
        mockreg_journal.violations()


def test_clearing_the_journal_clears_what_checks_found():
    journal = run_example("OCI-C020", 0)
    assert journal.violations()
    journal.clear()
    assert journal.violations() == []


PLUGIN_TEST = f'''
import json, pytest, requests
def bad_manifest_put(call):
{chr(10).join("    " + line for line in __import__("inspect").getsource(bad_manifest_put).splitlines()[1:])}

def call_on(url):
    return lambda m, p, body, headers: requests.request(m, url + p, data=body, headers=headers)

@pytest.mark.mockreg(client_checks="must")
def test_must(mockreg_server):
    bad_manifest_put(call_on(mockreg_server.url))

@pytest.mark.mockreg(client_checks="must")
def test_should_warns(mockreg_server):
    requests.get(mockreg_server.url + "/v2/demo/app/manifests/nothing", headers={{"Accept": None}})  # SHOULD

def test_off_by_default(mockreg_server):
    bad_manifest_put(call_on(mockreg_server.url))
'''


def test_pytest_marker_fails_must_warns_should_and_summarises(pytester, run):
    pytester.makepyfile(PLUGIN_TEST.replace("OCI_MANIFEST", repr(OCI_MANIFEST)))
    result = run("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1, warnings=1)
    result.stdout.fnmatch_lines(["*test_must*", "*OCI-C001 manifest-content-type-matches-media-type (MUST)*",
                                 "*ClientCheckWarning: OCI-C004*", "*mockreg client checks*",
                                 "OCI-C001 * 1 violation(s) in 1 test(s): test_pytest_marker*::test_must"])


def test_ini_option_turns_checks_on_and_bad_values_fail_clearly(pytester, run):
    pytester.makeini("[pytest]\nmockreg_client_checks = must\n")
    pytester.makepyfile(PLUGIN_TEST.replace("OCI_MANIFEST", repr(OCI_MANIFEST)))
    run("-p", "no:cacheprovider").assert_outcomes(passed=1, failed=2, warnings=1)
    pytester.makeini("[pytest]\nmockreg_client_checks = loud\n")
    result = run("-p", "no:cacheprovider", "-k", "off_by_default")
    result.stdout.fnmatch_lines(["*client_checks takes one of off, must, should, interop, got 'loud'*"])


def test_serve_check_clients_logs_lists_and_summarises(tmp_path, capsys):
    seen = {}

    def talk(url: str) -> None:
        bad_manifest_put(lambda m, p, body, headers: requests.request(m, url + p, data=body, headers=headers))
        seen["listed"] = requests.get(f"{url}/_mockreg/client-checks?level=must").json()

    code = serve_in_process(tmp_path / "ready", ["--check-clients", "--control-api", "--quiet"], talk)
    assert code == 0
    assert [v["rule"] for v in seen["listed"]["violations"]] == ["OCI-C001"]
    err = capsys.readouterr().err
    assert "client check OCI-C001 manifest-content-type-matches-media-type (MUST)" in err
    assert "client checks: 1 violation(s)" in err


def test_serve_json_log_lines(tmp_path, capsys):
    serve_in_process(tmp_path / "ready", ["--check-clients", "--quiet", "--log-format", "json"],
                     lambda url: bad_manifest_put(lambda m, p, b, h: requests.request(m, url + p, data=b, headers=h)))
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    [logged] = [r for r in records if r.get("rule") == "OCI-C001"]
    assert logged["level"] == "warning" and logged["rule_level"] == "MUST"
    assert logged["requests"] and logged["url"].startswith("https://")


def test_control_api_says_when_checks_are_off():
    from werkzeug.test import Client
    answer = Client(Registry(control_api=True)).get("/_mockreg/client-checks")
    assert answer.status_code == 404 and "client checks are off" in answer.get_data(as_text=True)


# -- the documentation ---------------------------------------------------------------------------------
def test_docs_examples_run_and_the_failure_shown_is_the_one_they_raise():
    message = run_page(PAGE, minimum=2)["message"]
    shown = PAGE.read_text(encoding="utf-8").split("```text\n", 1)[1].split("\n```", 1)[0]
    # The PUT is answered 201, or 400 where manifest_content_type_check refuses it (issue 17).
    assert re.sub(r"-> (201|400)", "-> ...", message) == re.sub(r"-> (201|400)", "-> ...", shown)


def test_docs_catalogue_matches_the_rules():
    page = PAGE.read_text(encoding="utf-8")
    shown = page.split("<!-- catalogue:begin -->\n", 1)[1].split("\n<!-- catalogue:end -->", 1)[0]
    assert shown == catalogue_markdown(), "run: python scripts/client_checks_table.py"


def load_table_script():
    spec = importlib.util.spec_from_file_location("client_checks_table", ROOT / "scripts" / "client_checks_table.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def committed_table() -> str:
    page = PAGE.read_text(encoding="utf-8")
    return page.split("<!-- client-table:begin -->\n", 1)[1].split("\n<!-- client-table:end -->", 1)[0]


def test_real_clients_break_the_rules_the_committed_table_says():
    """Runs every flow of scripts/client_checks_table.py (skopeo, podman, oras-py, python-dxf,
    requests, httpx) with checks on; the rules each breaks are those docs/client-checks.md shows."""
    for tool in ("skopeo", "podman"):
        required_tool(tool)
    script = load_table_script()
    rows = script.measure()
    assert [row["problem"] for row in rows] == [""] * len(rows)
    def broken(table: str):
        return [(cells[1].strip(), cells[3].strip(), cells[-2].strip())
                for cells in (line.split("|") for line in table.splitlines()[2:]) if len(cells) > 6]
    assert broken(script.table(rows)) == broken(committed_table()), "run: python scripts/client_checks_table.py"
    assert {row["client"] for row in rows} == {"skopeo", "podman", "oras-py", "python-dxf", "requests", "httpx"}


def test_upload_location_state_is_carried_and_accepted_back():
    from werkzeug.test import Client
    client = Client(Registry(upload_location_state=True))
    location = client.post("/v2/demo/app/blobs/uploads/").headers["Location"]
    assert "?_state=" in location
    patched = client.patch(location, data=b"abc", headers={"Content-Range": "0-2"})
    assert patched.status_code == 202 and patched.headers["Location"].endswith(".3")
    digest = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    closed = client.put(f"{patched.headers['Location']}&digest={digest}")
    assert closed.status_code == 201


@pytest.mark.parametrize("rule_id", sorted(BY_ID))
def test_checks_never_change_an_answer(rule_id):
    """Each example's requests are answered the same with checks on and off (observers only watch)."""
    answers = []
    for on in (False, True):
        registry = fresh_registry(BY_ID[rule_id].settings)
        journal = journal_of(registry)
        if on:
            journal.check_clients()
        for example in EXAMPLES[rule_id]:
            example(ExampleClient(registry))
        answers.append([(e.method, e.kind, e.status, e.request_bytes, e.response_bytes) for e in journal])
    assert answers[0] == answers[1]


def test_a_manifest_bigger_than_the_limit_is_refused_the_same_with_checks_on(mockreg, mockreg_requests,
                                                                           mockreg_journal):
    mockreg_journal.check_clients()
    mockreg.configure(manifest_size_limit=100)
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "padding": "x" * 200}).encode()
    chunked = requests.put(mockreg_requests.url + "/v2/demo/app/manifests/1.0", data=iter([body[:50], body[50:]]),
                           headers={"Content-Type": OCI_MANIFEST})
    assert chunked.status_code == 413


def docs_examples():
    from test_docs_fixtures import doc_examples, readme_example
    return [*doc_examples(), ("test_readme.py", readme_example(), None)]


# docs/fixtures.md's marker example asks for the referrers API on a registry without it to show the
# 404; as client code that is a referrers query without the fallback, and the check says so.
DOCS_EXPECTED = {"test_marker.py": ["OCI-C016"]}


@pytest.mark.parametrize("name, module, conftest", docs_examples(), ids=[e[0] for e in docs_examples()])
def test_docs_requests_and_httpx_examples_break_only_the_expected_rules(pytester, run, name, module, conftest):
    """The docs' own client code (requests, httpx, the journal examples) run with every rule on."""
    if conftest:
        pytester.makeconftest(conftest)
    if "fixtures/" in module:
        import shutil
        shutil.copytree(ROOT / "fixtures", pytester.path / "fixtures")
    pytester.makeini("[pytest]\nmockreg_client_checks = interop\n")
    pytester.makepyfile(**{f"test_checksdoc_{name[len('test_'):-len('.py')]}": module})
    result = run()
    summary = result.stdout.str().split("mockreg client checks", 1)[1] if "mockreg client checks" in \
        result.stdout.str() else ""
    assert sorted(set(re.findall(r"^(OCI-C\d+) ", summary, flags=re.M))) == DOCS_EXPECTED.get(name, []), \
        result.stdout.str()


IGNORING_TEST = PLUGIN_TEST + '''
@pytest.mark.mockreg(client_checks="must", client_checks_ignore=["OCI-C001"])
def test_must_ignored(mockreg_server):
    bad_manifest_put(call_on(mockreg_server.url))
'''


def test_rules_are_ignored_by_id_from_ini_or_marker(pytester, run):
    pytester.makeini("[pytest]\nmockreg_client_checks = must\nmockreg_client_checks_ignore = OCI-C004\n")
    pytester.makepyfile(IGNORING_TEST.replace("OCI_MANIFEST", repr(OCI_MANIFEST)))
    result = run("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=2)  # test_must and test_off_by_default fail; C004 is ignored
    assert "ClientCheckWarning" not in result.stdout.str()
    pytester.makeini("[pytest]\nmockreg_client_checks = must\nmockreg_client_checks_ignore = OCI-C999\n")
    result = run("-p", "no:cacheprovider", "-k", "off_by_default")
    result.stdout.fnmatch_lines(["*ini option mockreg_client_checks: unknown client rule(s) OCI-C999*"])


def test_serve_ignores_rules_by_id_and_refuses_unknown_ones(tmp_path, capsys):
    from mockreg.cli import main
    assert main(["serve", "--check-clients", "--ignore-client-rule", "OCI-C999"]) == 2
    assert "unknown client rule(s) OCI-C999" in capsys.readouterr().err
    assert main(["serve", "--ignore-client-rule", "OCI-C001"]) == 2
    assert "--ignore-client-rule goes with --check-clients" in capsys.readouterr().err
    serve_in_process(tmp_path / "ready", ["--check-clients", "--ignore-client-rule", "OCI-C001", "--quiet"],
                     lambda url: bad_manifest_put(lambda m, p, b, h: requests.request(m, url + p, data=b, headers=h)))
    assert "client checks: no violations" in capsys.readouterr().err


def test_a_manifest_put_refused_before_its_body_is_read_is_still_judged(mockreg, mockreg_requests, mockreg_journal):
    """A strict setting or layer may answer 400 without reading the body; the rule still sees it."""
    from mockreg.errors import RegistryError
    from mockreg.layers import Layer

    class RefuseManifestPuts(Layer):
        order = 5

        def before(self, registry, request, match):
            if match is not None and match.kind == "manifest-put":
                raise RegistryError("MANIFEST_INVALID", "refused before reading")
            return None

    mockreg_journal.check_clients()
    mockreg.install_layer(RefuseManifestPuts())
    answer = bad_manifest_put(lambda m, p, body, headers: requests.request(
        m, mockreg_requests.url + p, data=body, headers=headers))
    assert answer.status_code == 400
    assert [v.rule.id for v in mockreg_journal.violations("MUST")] == ["OCI-C001"]


def test_the_cost_benchmark_runs(capsys):
    """benchmarks/client_checks.py (numbers in the closing note) works; no timing is asserted."""
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import client_checks
    finally:
        sys.path.remove(str(ROOT))
    assert client_checks.main(["--rounds", "1", "--count", "50"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["no journal", "journal, checks off", "journal, checks on"]
