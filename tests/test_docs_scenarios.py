"""docs/scenarios.md: every YAML example is a valid scenario and every Python example runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from doc_examples import python_blocks

from mockreg import Registry
from mockreg.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "scenarios.md").read_text()
YAML_BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC, re.S)
PYTHON_BLOCKS = python_blocks(DOC)


@pytest.mark.parametrize("block", YAML_BLOCKS, ids=[f"yaml{i}" for i in range(len(YAML_BLOCKS))])
def test_yaml_example_is_a_valid_scenario(block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    handlers = tmp_path / "mypackage"
    handlers.mkdir()
    (handlers / "__init__.py").write_text("")
    (handlers / "handlers.py").write_text("def list_repositories(request, registry):\n"
                                          "    return {'repositories': registry.repositories()}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "example.yaml"
    path.write_text(block)
    registry = Registry()
    Scenario.load(path).apply(registry)
    assert registry.repositories() or registry.extensions.get("_acme") is not None


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=[f"python{i}" for i in range(len(PYTHON_BLOCKS))])
def test_python_example_runs(block: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    exec(compile(block, "docs/scenarios.md", "exec"), {})


def test_every_shipped_fixture_is_listed_in_the_docs() -> None:
    for path in (ROOT / "fixtures").glob("*.yaml"):
        assert f"fixtures/{path.name}" in DOC, f"{path.name} is not described in docs/scenarios.md"
