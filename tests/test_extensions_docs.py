"""docs/extensions.md's examples run, in order, in one namespace, exactly as printed."""

from __future__ import annotations

import re
from pathlib import Path

from werkzeug.test import Client

DOC = Path(__file__).resolve().parent.parent / "docs" / "extensions.md"


def test_every_python_example_in_the_extensions_doc_runs() -> None:
    blocks = re.findall(r"^```python\n(.*?)^```$", DOC.read_text(encoding="utf-8"), flags=re.S | re.M)
    assert len(blocks) >= 8, "the examples were not found"
    namespace: dict = {}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{DOC.name} example {number}", "exec"), namespace)


def test_the_readme_extensions_example_runs_and_serves() -> None:
    readme = (DOC.parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Extensions", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"^```python\n(.*?)^```$", section, flags=re.S | re.M)
    assert block is not None
    namespace: dict = {}
    exec(compile(block.group(1), "README.md Extensions", "exec"), namespace)
    response = Client(namespace["registry"]).get("/v2/_acme/stats/summary")
    assert response.json == {"repositories": 0}
