"""docs/edge-cases.md's examples run, in order, in one namespace, exactly as printed; and the
README's "Edge cases" example runs too."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _blocks(text: str) -> list:
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.S | re.M)


def test_every_python_example_in_the_edge_cases_doc_runs() -> None:
    doc = ROOT / "docs" / "edge-cases.md"
    blocks = _blocks(doc.read_text(encoding="utf-8"))
    assert len(blocks) >= 9, "the examples were not found"
    namespace: dict = {}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{doc.name} example {number}", "exec"), namespace)


def test_the_readme_edge_cases_example_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Edge cases", 1)[1].split("\n## ", 1)[0]
    blocks = _blocks(section)
    assert blocks, "the README's Edge cases section has no example"
    exec(compile(blocks[0], "README.md Edge cases", "exec"), {})
