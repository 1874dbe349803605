"""Repeated measurements and the rows of the results table."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sample:
    """Median, min and max of repeated runs of one quantity."""

    median: float
    low: float
    high: float
    runs: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Sample:
        """Summarise the values of the runs."""
        return cls(statistics.median(values), min(values), max(values), len(values))


@dataclass
class Row:
    """One line of the results table: ours against a comparison, and the target if any."""

    bench: str
    measure: str
    unit: str
    ours: Sample | None = None
    comparison_name: str = ""
    comparison: Sample | None = None
    target: str = ""
    target_ratio: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """ours / comparison, on the medians."""
        if self.ours is None or self.comparison is None or self.comparison.median == 0:
            return None
        return self.ours.median / self.comparison.median

    @property
    def met(self) -> str:
        """``yes``/``no`` against the target ratio (at most), ``not measured`` or ``-`` without a target."""
        if self.ours is None:
            return "not measured"
        if self.target_ratio is None:
            return "-"
        ratio = self.ratio
        if ratio is None:
            return "not measured"
        return "yes" if ratio <= self.target_ratio else "no"

    def as_dict(self) -> dict[str, Any]:
        """The row for ``results.json``."""
        data = asdict(self)
        data["ratio"] = self.ratio
        data["met"] = self.met
        return data
