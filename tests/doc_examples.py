"""Running the Python examples of a Markdown page, as the documentation tests do."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List

_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", flags=re.S | re.M)


def python_blocks(text: str) -> List[str]:
    return _PYTHON_BLOCK.findall(text)


def run_page(page: Path, minimum: int) -> Dict[str, Any]:
    """Execute every Python example of `page` in order, in one namespace, exactly as printed."""
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    assert len(blocks) >= minimum, f"expected at least {minimum} examples in {page.name}, found {len(blocks)}"
    namespace: Dict[str, Any] = {}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{page.name} example {number}", "exec"), namespace)
    return namespace
