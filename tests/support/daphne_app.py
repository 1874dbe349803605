"""The project's ASGI application as daphne (and so ``runserver``) serves it, for ``daphne_server``.

``RXGRAPHQL_OVERRIDES`` (JSON) is merged into the ``RXGRAPHQL`` settings of the test settings module.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT, ROOT / "example"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

from django.conf import settings  # noqa: E402

from rxgraphql.asgi import get_asgi_application  # noqa: E402

settings.RXGRAPHQL = {**settings.RXGRAPHQL, **json.loads(os.environ.get("RXGRAPHQL_OVERRIDES", "{}"))}
application = get_asgi_application()
