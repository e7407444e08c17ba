"""docs/reliability.md's examples run, in order, in one namespace, exactly as printed; and the
check_invariants module docstring's example runs too."""

from __future__ import annotations

import re
from pathlib import Path

from doc_examples import run_page

import mockreg.invariants

ROOT = Path(__file__).resolve().parent.parent


def test_every_python_example_in_the_reliability_doc_runs() -> None:
    run_page(ROOT / "docs" / "reliability.md", minimum=4)


def test_the_invariants_docstring_example_runs() -> None:
    docstring = mockreg.invariants.__doc__ or ""
    block = docstring.split("::\n\n", 1)[1].split("\n\nEach problem", 1)[0]
    example = "\n".join(line[4:] for line in block.splitlines())
    assert "check_invariants(registry) == []" in example
    exec(compile(example, "mockreg/invariants.py docstring", "exec"), {})


def test_the_long_run_command_in_the_doc_names_a_real_script_and_its_options() -> None:
    doc = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    command = re.search(r"python (benchmarks/\S+) (.*)", doc)
    assert command is not None
    script = (ROOT / command.group(1)).read_text(encoding="utf-8")
    for option in re.findall(r"--[a-z-]+", command.group(2)):
        assert f'"{option}"' in script, option
