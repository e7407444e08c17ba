"""Figures (medians of interleaved repetitions), the ratios between them, and the table."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Union


@dataclass
class Figure:
    label: str
    unit: str
    short: str = ""  # how the figure is named in the floor / limit column, e.g. "floor"
    samples: List[float] = field(default_factory=list)
    # True when at least one sample was cut off by a time cap: the true rate is at most this.
    capped: bool = False

    @property
    def value(self) -> Optional[float]:
        return statistics.median(self.samples) if self.samples else None


@dataclass(frozen=True)
class Ratio:
    """`of` divided by `to` (a figure key, or a constant such as a blob size)."""

    of: str
    to: Union[str, float]
    name: str
    target: Optional[str] = None  # e.g. "<= 1.3" or ">= 3"


@dataclass(frozen=True)
class Row:
    mockreg: Optional[str]  # None for a row that only shows a limit of the machine
    peer: Optional[str] = None
    reference: Optional[str] = None  # the floor or the machine limit this row is judged against
    ratios: tuple = ()


class Results:
    def __init__(self) -> None:
        self.figures: Dict[str, Figure] = {}
        self.notes: List[str] = []

    def declare(self, key: str, label: str, unit: str, short: str = "") -> None:
        self.figures.setdefault(key, Figure(label, unit, short))

    def add(self, key: str, value: float, capped: bool = False) -> None:
        figure = self.figures[key]
        figure.samples.append(value)
        figure.capped = figure.capped or capped

    def value(self, key: Union[str, float]) -> Optional[float]:
        if not isinstance(key, str):
            return float(key)
        figure = self.figures.get(key)
        return figure.value if figure is not None else None

    def ratio(self, ratio: Ratio) -> Dict[str, Any]:
        """The median of per-repetition ratios when both sides were measured in every repetition
        (each pair back to back, so a slow moment of a noisy machine hits both), else the ratio
        of the medians."""
        top, bottom = self.value(ratio.of), self.value(ratio.to)
        pairs = self._pairs(ratio)
        if pairs:
            value: Optional[float] = statistics.median(a / b for a, b in pairs)
        else:
            value = top / bottom if top is not None and bottom else None
        # A capped figure is an upper bound, so a ratio over it is a lower bound and vice versa.
        bound = "at most" if self._capped(ratio.of) else "at least" if self._capped(ratio.to) else None
        return {"name": ratio.name, "of": ratio.of, "to": ratio.to, "value": value, "target": ratio.target,
                "met": _meets(value, ratio.target), "bound": bound}

    def _pairs(self, ratio: Ratio) -> List[tuple]:
        if not isinstance(ratio.to, str) or ratio.of not in self.figures or ratio.to not in self.figures:
            return []
        tops, bottoms = self.figures[ratio.of].samples, self.figures[ratio.to].samples
        if len(tops) != len(bottoms) or not all(bottoms):
            return []
        return list(zip(tops, bottoms))

    def _capped(self, key: Union[str, float]) -> bool:
        return isinstance(key, str) and key in self.figures and self.figures[key].capped

    def to_json(self, sections: Dict[str, List[Row]], meta: Dict[str, Any]) -> Dict[str, Any]:
        figures = {key: {"label": f.label, "unit": f.unit, "value": f.value, "samples": f.samples,
                         "capped": f.capped} for key, f in self.figures.items()}
        ratios = {}
        for rows in sections.values():
            for row in rows:
                for ratio in row.ratios:
                    ratios[f"{ratio.of}/{ratio.to}"] = self.ratio(ratio)
        return {**meta, "figures": figures, "ratios": ratios, "notes": self.notes}

    def table(self, sections: Dict[str, List[Row]]) -> str:
        """A Markdown table: one row per measured thing, its ratios and targets."""
        lines = ["| what | mockreg | reference registry | floor / limit | ratios (target) |",
                 "|---|---:|---:|---:|---|"]
        for title, rows in sections.items():
            lines.append(f"| **{title}** | | | | |")
            for row in rows:
                figure = self.figures[next(key for key in (row.mockreg, row.peer, row.reference) if key)]
                cells = [f"{figure.label} ({figure.unit})", self._cell(row.mockreg), self._cell(row.peer),
                         self._cell(row.reference), "; ".join(self._ratio_text(r) for r in row.ratios)]
                lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def _cell(self, key: Optional[str]) -> str:
        if key is None:
            return ""
        figure = self.figures.get(key)
        if figure is None or figure.value is None:
            return "n/a"
        label = f"{figure.short} " if figure.short else ""
        return label + ("≤ " if figure.capped else "") + _number(figure.value)

    def _ratio_text(self, ratio: Ratio) -> str:
        result = self.ratio(ratio)
        if result["value"] is None:
            return f"{ratio.name} n/a"
        mark = {True: " ✓", False: " ✗", None: ""}[result["met"]]
        bound = {"at most": "≤ ", "at least": "≥ ", None: ""}[result["bound"]]
        target = f" ({ratio.target})" if ratio.target else ""
        return f"{ratio.name} {bound}{result['value']:.2f}×{target}{mark}"


def _meets(value: Optional[float], target: Optional[str]) -> Optional[bool]:
    if value is None or target is None:
        return None
    op, _, limit = target.partition(" ")
    return value <= float(limit) if op in ("<=", "<") else value >= float(limit)


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"
