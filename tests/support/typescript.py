"""Type-checking generated TypeScript with the ``tsc`` of tests/node (strict settings in its tsconfig)."""

import subprocess
from pathlib import Path

NODE_DIR = Path(__file__).resolve().parent.parent / "node"


def assert_tsc_passes(project: Path) -> None:
    """Run ``tsc -p project`` and fail with its diagnostics when it reports any."""
    result = subprocess.run(
        [str(NODE_DIR / "node_modules" / ".bin" / "tsc"), "-p", str(project)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
