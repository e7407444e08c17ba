"""docs/edge-cases.md's examples run, in order, in one namespace, exactly as printed (the
README's "Edge cases" example runs in test_readme.py)."""

from __future__ import annotations

from pathlib import Path

from doc_examples import run_page

ROOT = Path(__file__).resolve().parent.parent


def test_every_python_example_in_the_edge_cases_doc_runs() -> None:
    run_page(ROOT / "docs" / "edge-cases.md", minimum=9)
