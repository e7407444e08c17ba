"""docs/events.md runs as printed: its test module under pytest (the `mockreg_webhook` fixture),
every other Python example in order in one namespace, and the failure message it shows is the
one a test gets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from doc_examples import python_blocks

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "events.md"


def blocks():
    found = python_blocks(PAGE.read_text(encoding="utf-8"))
    modules = [b for b in found if re.match(r"# test_\w+\.py\n", b)]
    return modules, [b for b in found if b not in modules]


def test_the_fixture_example_passes_under_pytest(run, pytester: pytest.Pytester) -> None:
    modules, _ = blocks()
    assert len(modules) == 1
    pytester.makepyfile(test_eventsdoc_notifications=modules[0])
    result = run()
    result.assert_outcomes(passed=1)


def test_the_other_examples_run_in_order() -> None:
    _, examples = blocks()
    assert len(examples) >= 5
    namespace: dict = {}
    for number, block in enumerate(examples, 1):
        exec(compile(block, f"{PAGE.name} example {number}", "exec"), namespace)


def test_the_failure_message_shown_is_the_one_a_test_gets(run, pytester: pytest.Pytester) -> None:
    modules, _ = blocks()
    failing = modules[0].replace('    mockreg_webhook.assert_no_event("delete")',
                                 '    mockreg_webhook.assert_no_event("delete")\n'
                                 '    mockreg_webhook.assert_event("pull", "demo/app:1.0", timeout=5)')
    pytester.makepyfile(test_eventsdoc_failing=failing)
    result = run()
    result.assert_outcomes(failed=1)
    shown = re.search(r"```text\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S).group(1)
    output = result.stdout.str()
    for line in shown.strip().splitlines():
        assert line.strip() in output, line


def test_the_page_is_the_extensions_documentation_url() -> None:
    from mockreg.events.extension import DOCS_URL

    assert DOCS_URL.endswith("/docs/events.md") and PAGE.exists()


def test_the_scenario_example_loads(tmp_path: Path) -> None:
    from mockreg import Registry
    from mockreg.scenario import Scenario

    yaml_block = re.search(r"```yaml\n(version: 1\n.*?)```", PAGE.read_text(encoding="utf-8"), re.S).group(1)
    path = tmp_path / "notify.yaml"
    path.write_text(yaml_block)
    registry = Registry()
    Scenario.load(path).apply(registry)
    assert [e.name for e in registry.notifications.endpoints] == ["alistener"]
    assert registry.extensions.get("_events") is not None and registry.notifications.include_references
    registry.notifications.close()


def test_the_plugin_loads_no_events_code_until_a_test_asks() -> None:
    import subprocess
    import sys

    probe = ("import sys, mockreg.pytest_plugin; print(sorted(m for m in sys.modules "
             "if m.startswith('mockreg.events.') and m != 'mockreg.events.config'))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
