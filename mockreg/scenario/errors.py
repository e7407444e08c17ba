"""`ScenarioError`: what is wrong with a scenario file, and exactly where."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple, Union

KeyPath = Tuple[Union[str, int], ...]


def format_path(where: KeyPath) -> str:
    """`repositories.demo/app.images[0].layers[1]` style, as a reader would look it up."""
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


class ScenarioError(ValueError):
    """A scenario file that cannot be loaded. The message names the file, the line, the key
    path, what was expected and what was found; the registry it was loaded into is unchanged."""

    def __init__(self, file: Union[Path, str, None], where: KeyPath, problem: str,
                 line: Optional[int] = None, column: Optional[int] = None) -> None:
        self.file = str(file) if file is not None else "<scenario>"
        self.where = tuple(where)
        self.problem = problem
        self.line = line
        self.column = column
        location = self.file + (f":{line}" if line else "") + (f":{column}" if line and column else "")
        super().__init__(f"{location}: {format_path(self.where)}: {problem}")
