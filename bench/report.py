"""Writes ``bench/results.md`` and ``bench/results.json``."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import plots
from bench.stats import Row, Sample

HERE = Path(__file__).resolve().parent


def machine() -> dict[str, Any]:
    """``nproc``, memory, CPU model and load average of this machine."""
    cpu = "unknown"
    memory_kib = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_kib = int(line.split()[1])
    except OSError:
        pass
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    try:
        load = " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        load = "unknown"
    return {
        "nproc": nproc or str(os.cpu_count()),
        "memory_gib": round(memory_kib / 2**20, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "load_average_1_5_15_min_at_end": load,
    }


def _fmt(value: float, unit: str) -> str:
    if unit == "sockets":
        return f"{value:.0f}"
    if unit == "1/s":
        return f"{value:.0f}/s"
    if unit == "iB":
        return f"{value / 2**10:.1f} KiB" if value < 2**20 else f"{value / 2**20:.1f} MiB"
    if unit.startswith("s"):
        if value < 1e-3:
            return f"{value * 1e6:.0f} µs"
        if value < 1:
            return f"{value * 1e3:.1f} ms"
        return f"{value:.2f} s"
    if unit == "B":
        if value >= 1e6:
            return f"{value / 1e6:.2f} MB"
        if value >= 1e3:
            return f"{value / 1e3:.1f} kB"
        return f"{value:.0f} B"
    return f"{value:.3g}"


def _cell(sample: Sample | None, unit: str) -> str:
    if sample is None:
        return "not measured"
    if sample.low == sample.high:
        return _fmt(sample.median, unit)
    return f"{_fmt(sample.median, unit)} ({_fmt(sample.low, unit)}-{_fmt(sample.high, unit)})"


def _setup() -> str:
    from bench import settings

    pool = (
        "Django's psycopg connection pool"
        if settings.POOLED
        else "persistent connections (CONN_MAX_AGE; psycopg_pool is not installed)"
    )
    return f"Database connections: {pool}. What every figure includes: [bench/README.md](README.md)."


def write(
    rows: list[Row], started: datetime, seconds: float, out: Path = HERE, parts: list[str] | None = None
) -> None:
    """Write ``results.json``, the plots drawn from it, then ``results.md`` linking them, under ``out``."""
    info = machine()
    out.mkdir(parents=True, exist_ok=True)
    command = ".venv/bin/python -m bench" + ("" if out == HERE else " " + " ".join(parts or []))
    lines = [
        "# Benchmark results",
        "",
        f"Run {started.strftime('%Y-%m-%d %H:%M UTC')} in {seconds:.0f} s with `{command}`; "
        f"machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory_gib']} GiB memory, "
        f"Python {info['python']}; load average (1/5/15 min) at the end: "
        f"{info['load_average_1_5_15_min_at_end']} "
        "(other work on the machine inflates absolute figures).",
        "",
        "Each cell is the median of the runs with (min-max). Ratio = ours / comparison on the medians.",
        _setup(),
        "",
        "| bench | measure | ours | comparison | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        comparison = "-"
        if row.comparison_name:
            comparison = f"{row.comparison_name}: {_cell(row.comparison, row.unit)}"
        ratio = f"{row.ratio:.3g}x" if row.ratio is not None else "-"
        lines.append(
            f"| {row.bench} | {row.measure} | {_cell(row.ours, row.unit)} | {comparison} | {ratio} "
            f"| {row.target or '-'} | {row.met} |"
        )
    notes = [f"- {row.bench} {row.measure}: {row.note}" for row in rows if row.note]
    if notes:
        lines += ["", "Notes:", "", *notes]
    (out / "results.json").write_text(
        json.dumps(
            {
                "date": started.isoformat(),
                "seconds": seconds,
                "machine": info,
                "rows": [row.as_dict() for row in rows],
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    drawn = plots.draw(out / "results.json", out / "plots")
    if drawn:
        lines += ["", "Plots (medians of the runs, bars from min to max):", ""]
        lines += [f"![{path.stem}](plots/{path.name})" for path in drawn]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    if out == HERE:
        _into_readme(lines[2:])


def _into_readme(lines: list[str]) -> None:
    """Put the table of a full run into ``bench/README.md`` between its result markers."""
    readme = HERE / "README.md"
    text = readme.read_text()
    begin, end = "<!-- results -->\n", "<!-- /results -->"
    head, _sep, rest = text.partition(begin)
    _old, _sep2, tail = rest.partition(end)
    if not _sep or not _sep2:
        return
    body = "\n".join(lines)
    readme.write_text(f"{head}{begin}{body}\n{end}{tail}")


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)
