"""The example's ASGI application for the multi-process tests.

With ``RXGRAPHQL_MP_SLOW_HEAT=<seconds>`` every heating sleeps that long after rendering, so a test can
kill the process while it holds the heating lease.
"""

import os
import time
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.multiproc.settings")

from rxgraphql.asgi import get_asgi_application

application = get_asgi_application()

_slow = float(os.environ.get("RXGRAPHQL_MP_SLOW_HEAT", "0"))
if _slow:
    from rxgraphql import feeds

    _render = feeds.heat_records

    def _slow_heat(*args: Any, **kwargs: Any) -> Any:
        rendered = _render(*args, **kwargs)
        time.sleep(_slow)
        return rendered

    feeds.heat_records = _slow_heat  # type: ignore[assignment]
