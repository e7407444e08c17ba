"""docs/extensions.md's examples run, in order, in one namespace, exactly as printed."""

from __future__ import annotations

from pathlib import Path

from doc_examples import python_blocks, run_page
from werkzeug.test import Client

DOC = Path(__file__).resolve().parent.parent / "docs" / "extensions.md"


def test_every_python_example_in_the_extensions_doc_runs() -> None:
    run_page(DOC, minimum=8)


def test_the_readme_extensions_example_runs_and_serves() -> None:
    readme = (DOC.parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Extensions", 1)[1].split("\n## ", 1)[0]
    blocks = python_blocks(section)
    assert blocks
    namespace: dict = {}
    exec(compile(blocks[0], "README.md Extensions", "exec"), namespace)
    response = Client(namespace["registry"]).get("/v2/_acme/stats/summary")
    assert response.json == {"repositories": 0}
