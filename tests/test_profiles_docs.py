"""docs/profiles.md: its Python examples run in order in one namespace, and its example test
that runs over every profile really runs, once per shipped profile."""

from __future__ import annotations

from pathlib import Path

from doc_examples import python_blocks, run_page

from mockreg import profiles

pytest_plugins = ["pytester"]

DOC = Path(__file__).resolve().parent.parent / "docs" / "profiles.md"


def test_every_python_example_in_the_profiles_doc_runs() -> None:
    run_page(DOC, minimum=5)


def test_the_docs_test_over_every_profile_passes_once_per_profile(run, pytester) -> None:
    block = next(b for b in python_blocks(DOC.read_text(encoding="utf-8")) if "def test_version_check" in b)
    pytester.makepyfile("import pytest\n" + block)
    result = run("-v")
    result.assert_outcomes(passed=len(profiles.names()))
    result.stdout.fnmatch_lines(["*test_version_check[[]strict-spec[]] PASSED*"])
