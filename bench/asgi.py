"""The ASGI application the benchmarks serve with uvicorn in a separate process (embedded backends, or
Redis + MongoDB under ``bench.settings_cluster``), with the bench's agent (``bench.agent``)."""

import os
import sys
from pathlib import Path

_EXAMPLE = str(Path(__file__).resolve().parent.parent / "example")
if _EXAMPLE not in sys.path:
    sys.path.insert(0, _EXAMPLE)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

from bench.agent import install  # noqa: E402
from rxgraphql.asgi import get_asgi_application  # noqa: E402

application = install(get_asgi_application())
