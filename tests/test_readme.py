"""Every example in the README runs: Python snippets execute, test examples pass under pytest,
and YAML examples are valid scenario files."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from doc_examples import python_blocks

from mockreg import Registry
from mockreg.scenario import Scenario

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PYTHON = python_blocks(README)
YAML = re.findall(r"^```yaml\n(.*?)^```$", README, flags=re.S | re.M)
SNIPPETS = [block for block in PYTHON if "def test_" not in block]
TESTS = [block for block in PYTHON if "def test_" in block]


@pytest.mark.parametrize("block", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_python_snippet_runs(block: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    exec(compile(block, "README.md", "exec"), {})


@pytest.mark.parametrize("block", TESTS, ids=[f"tests{i}" for i in range(len(TESTS))])
def test_test_example_passes_under_pytest(block: str, pytester: pytest.Pytester) -> None:
    shutil.copytree(ROOT / "fixtures", pytester.path / "fixtures")
    module = block if block.lstrip().startswith(("import", "from")) else "import pytest\n\n" + block
    pytester.makepyfile(test_readme_example=module)
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:benchmark")
    result.assert_outcomes(passed=len(re.findall(r"^def test_", module, flags=re.M)))


@pytest.mark.parametrize("block", YAML, ids=[f"yaml{i}" for i in range(len(YAML))])
def test_yaml_example_is_a_valid_scenario(block: str, tmp_path: Path) -> None:
    path = tmp_path / "readme.yaml"
    path.write_text(block)
    registry = Registry()
    Scenario.load(path).apply(registry)
    assert registry.repositories()


def test_the_readme_has_examples_of_each_kind() -> None:
    assert SNIPPETS and TESTS and YAML
