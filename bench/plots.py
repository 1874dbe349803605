"""PNG plots of ``bench/results.json`` in ``bench/plots/``, linked from ``bench/results.md``.

Rows carry what a plot needs in ``extra["plot"]`` (figure, series, x, statistic), so the plots can be drawn
again from a results file alone: ``.venv/bin/python -m bench.plots``. Every point is the median of the
runs; error bars span min to max.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

HERE = Path(__file__).resolve().parent
PLOTS = HERE / "plots"
Point = tuple[float, float, float, float]  # x, median, low, high


def _point(x: float, sample: dict[str, Any], scale: float = 1.0) -> Point:
    return x, sample["median"] * scale, sample["low"] * scale, sample["high"] * scale


def _draw(axes: Axes, series: dict[str, list[Point]], styles: dict[str, str] | None = None) -> None:
    for name, points in series.items():
        points.sort()
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        errors = [[p[1] - p[2] for p in points], [p[3] - p[1] for p in points]]
        style = (styles or {}).get(name, "-")
        axes.errorbar(xs, ys, yerr=errors, fmt=style, marker="o", capsize=3, label=name)


def _finish(axes: Axes, title: str, xlabel: str, ylabel: str, log: bool = True) -> None:
    if log:
        axes.set_xscale("log")
        axes.set_yscale("log")
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")


def _rows(rows: list[dict[str, Any]], figure: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    found = []
    for row in rows:
        plot = row.get("extra", {}).get("plot")
        if plot and plot.get("figure") == figure and row.get("ours"):
            found.append((row, plot))
    return found


def _b1(rows: list[dict[str, Any]]) -> Any:
    series: dict[str, dict[float, Point]] = defaultdict(dict)
    for row, plot in _rows(rows, "b1"):
        if plot["stat"] != "p99":
            continue
        series[plot["series"]][plot["x"]] = _point(plot["x"], row["ours"], 1e3)
        if row.get("comparison"):
            series[plot["comparison_series"]][plot["x"]] = _point(plot["x"], row["comparison"], 1e3)
    if not series:
        return None
    figure, axes = plt.subplots(figsize=(8, 5.5))
    _draw(axes, {name: list(points.values()) for name, points in series.items()})
    _finish(axes, "B1 fan-out: save to the last of N subscribers (p99)", "subscribers N", "p99 latency (ms)")
    return figure


def _b2(rows: list[dict[str, Any]]) -> Any:
    series: dict[str, dict[float, Point]] = defaultdict(dict)
    for row, plot in _rows(rows, "b2"):
        series[plot["series"]][plot["x"]] = _point(plot["x"], row["ours"])
        series[plot["comparison_series"]][plot["x"]] = _point(plot["x"], row["comparison"])
    if not series:
        return None
    figure, axes = plt.subplots(figsize=(7, 5))
    _draw(axes, {name: list(points.values()) for name, points in series.items()})
    _finish(axes, "B2 first full state", "records on the board", "time to the full state (s)")
    return figure


def _b4(rows: list[dict[str, Any]]) -> Any:
    series: dict[str, dict[float, Point]] = defaultdict(dict)
    for row, plot in _rows(rows, "b4"):
        series[plot["series"]][plot["x"]] = _point(plot["x"], row["ours"], 1e3)
        if row.get("comparison"):
            series[plot["comparison_series"]][plot["x"]] = _point(plot["x"], row["comparison"], 1e3)
    if not series:
        return None
    figure, axes = plt.subplots(figsize=(8, 5.5))
    _draw(axes, {name: list(points.values()) for name, points in series.items()})
    _finish(axes, "B4 TypeScript store (node)", "cards on the board", "time (ms)")
    return figure


def _b5(rows: list[dict[str, Any]]) -> Any:
    idle = [row for row, _plot in _rows(rows, "b5_idle")]
    rate = [row for row, _plot in _rows(rows, "b5_rate")]
    if not idle and not rate:
        return None
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    if idle:
        rss = sorted((int(n), value / 2**20) for n, value in idle[0]["extra"]["rss"].items())
        left.plot([n for n, _ in rss], [mib for _, mib in rss], marker="o", label="worker RSS")
        _finish(left, "B5 idle subscribed sockets, one worker", "subscribed sockets", "RSS (MiB)", log=False)
    if rate:
        for index, steps in enumerate(rate[0]["extra"]["ladders"], 1):
            xs = [step["rate"] for step in steps]
            ys = [min(step["p99"], 10.0) * 1e3 for step in steps]
            right.plot(xs, ys, marker="o", label=f"ladder {index}")
        limit = rate[0]["extra"].get("limit", 0.1) * 1e3
        right.axhline(limit, color="grey", linestyle=":", linewidth=1, label=f"limit {limit:.0f} ms")
        _finish(
            right,
            "B5 saves/s to 1000 subscribers",
            "saves per second",
            "p99 save to last socket (ms)",
            log=False,
        )
    return figure


def _save(figure: Any, name: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def draw(results: Path = HERE / "results.json", folder: Path = PLOTS) -> list[Path]:
    """Draw every plot the results allow into ``folder``; the paths written."""
    rows = json.loads(results.read_text())["rows"]
    drawn = []
    for name, figure in ((name, make(rows)) for name, make in FIGURES.items()):
        if figure is not None:
            drawn.append(_save(figure, name, folder))
    return drawn


FIGURES = {"b1_fanout.png": _b1, "b2_first_state.png": _b2, "b4_client.png": _b4, "b5_capacity.png": _b5}


if __name__ == "__main__":
    for written in draw():
        print(written)
