"""B4: the TypeScript store (``codegen/runtime/store.ts``) under node.

``bench/store_bench.ts`` and the runtime are compiled with the runtime's own ``tsc`` into a temporary
directory (nothing is written in the repository), then run with ``node``. The comparison "rebuild from
scratch" is what a client without the store pays at each update: building the whole nested state again
from the flat records, i.e. the snapshot build of the same size.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.stats import Row, Sample

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "codegen" / "runtime"
SIZES = (1_000, 10_000, 100_000)


def _sample(data: dict[str, Any]) -> Sample:
    return Sample(float(data["median"]), float(data["low"]), float(data["high"]), int(data["runs"]))


def run_store_bench(repeats: int, patches: int = 200) -> dict[str, Any]:
    """Compile and run the node script; its JSON output."""
    with tempfile.TemporaryDirectory(prefix="rxgraphql-bench-") as out:
        subprocess.run(
            [
                str(RUNTIME / "node_modules" / ".bin" / "tsc"),
                "--ignoreConfig",
                "--outDir",
                out,
                "--rootDir",
                str(ROOT),
                "--module",
                "ES2022",
                "--target",
                "ES2022",
                "--moduleResolution",
                "bundler",
                "--skipLibCheck",
                "--types",
                "node",
                "--lib",
                "ES2022,DOM",
                str(ROOT / "bench" / "store_bench.ts"),
            ],
            check=True,
            cwd=RUNTIME,
        )
        (Path(out) / "package.json").write_text('{"type": "module"}\n')
        result = subprocess.run(
            [
                "node",
                str(Path(out) / "bench" / "store_bench.js"),
                str(repeats),
                str(patches),
                *map(str, SIZES),
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def b4_rows(repeats: int) -> list[Row]:
    """Per-patch cost at each size, its growth from 1k to 100k, and the snapshot build's linearity."""
    data = run_store_bench(repeats)
    patch = {n: _sample(data[str(n)]["patch"]) for n in SIZES}
    build = {n: _sample(data[str(n)]["snapshot"]) for n in SIZES}
    rows = [
        Row(
            "B4",
            f"store: one-record patch, {n // 1000}k cards",
            "s/patch",
            patch[n],
            "rebuild nested state from scratch",
            build[n],
            extra={
                "plot": {
                    "figure": "b4",
                    "series": "one-record patch",
                    "comparison_series": "rebuild from scratch",
                    "x": n,
                }
            },
        )
        for n in SIZES
    ]
    rows.append(
        Row(
            "B4",
            "store: patch cost at 100k vs at 1k cards",
            "s/patch",
            patch[100_000],
            "patch at 1k",
            patch[1_000],
            target="<= 2x",
            target_ratio=2.0,
            note="10 columns: the changed card's column lists 10k cards, and that list is copied",
        )
    )
    rows.append(
        Row(
            "B4",
            "store: patch cost at 100k cards in columns of 100 vs at 1k cards",
            "s/patch",
            _sample(data["100000n"]["patch"]),
            "patch at 1k",
            patch[1_000],
            target="<= 2x",
            target_ratio=2.0,
            note="the same 100k cards in 1000 columns of 100 cards",
        )
    )
    ten_k = build[10_000]
    scaled = Sample(ten_k.median * 10, ten_k.low * 10, ten_k.high * 10, ten_k.runs)
    rows.append(
        Row(
            "B4",
            "store: snapshot build at 100k cards",
            "s",
            build[100_000],
            "10 x snapshot build at 10k",
            scaled,
            target="linear (<= 1.5x)",
            target_ratio=1.5,
            note=(
                "'linear' is read as: the 100k build costs at most 1.5x ten 10k builds (against a hundred 1k "
                "builds the ratio measured V8's garbage collector, which a 1k build rarely meets)"
            ),
        )
    )
    return rows
