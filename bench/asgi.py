"""The ASGI application the benchmarks serve with uvicorn in a separate process (embedded backends)."""

import os
import sys
from pathlib import Path

_EXAMPLE = str(Path(__file__).resolve().parent.parent / "example")
if _EXAMPLE not in sys.path:
    sys.path.insert(0, _EXAMPLE)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

from rxgraphql.asgi import get_asgi_application  # noqa: E402

application = get_asgi_application()
