"""Repeated measurements and the rows of the results table."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between the closest ranks."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


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
    target_max: float | None = None
    target_min: float | None = None
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
        """``yes``/``no`` against the targets (ratio at most, ours at most / at least), ``-`` without one."""
        if self.ours is None:
            return "not measured"
        checks: list[bool] = []
        if self.target_ratio is not None:
            ratio = self.ratio
            if ratio is None:
                return "not measured"
            checks.append(ratio <= self.target_ratio)
        if self.target_max is not None:
            checks.append(self.ours.median <= self.target_max)
        if self.target_min is not None:
            checks.append(self.ours.median >= self.target_min)
        if not checks:
            return "-"
        return "yes" if all(checks) else "no"

    def as_dict(self) -> dict[str, Any]:
        """The row for ``results.json``."""
        data = asdict(self)
        data["ratio"] = self.ratio
        data["met"] = self.met
        return data
