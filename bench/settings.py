"""Django settings of the benchmarks: the test suite's settings on a database of their own.

``RXGRAPHQL_BENCH_DATABASE_URL`` names the PostgreSQL database (created and dropped by the suite).
``CACHE_TTL`` is 0 so that an anchor is freed as soon as its last subscriber leaves: the next
subscription is then a cold one. ``RXGRAPHQL_BENCH_CAPTURE``, when set, becomes ``RXGRAPHQL["CAPTURE"]``
(B6 runs one process per capture mode).

Database connections come from Django's psycopg connection pool (``OPTIONS["pool"]``), as a deployment under
ASGI should have them: persistent connections (``CONN_MAX_AGE``) do not survive ASGI's thread per request,
and without either every request and every subscription's permission check opens a new PostgreSQL
connection (~5 ms here). Without the ``psycopg_pool`` package the bench falls back to ``CONN_MAX_AGE``
(``POOLED`` says which, and the results say it too).
"""

import importlib.util
import os

from tests.settings import *  # noqa: F403
from tests.settings import RXGRAPHQL as _TEST_RXGRAPHQL
from tests.settings import postgres_database

BENCH_DATABASE_URL = os.environ.get(
    "RXGRAPHQL_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rxgraphql_bench"
)
DATABASES = {"default": postgres_database(BENCH_DATABASE_URL)}
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bench.urls"
# Thousands of sockets open at once on two busy cores: the handshake may wait longer than the default
# CONNECTION_INIT_TIMEOUT, and the bench measures speed, not that limit.
RXGRAPHQL = {
    **_TEST_RXGRAPHQL,
    "CACHE_TTL": 0,
    "REDIS_URL": None,
    "MONGO_URL": None,
    "CONNECTION_INIT_TIMEOUT": 120.0,
}
if os.environ.get("RXGRAPHQL_BENCH_CAPTURE"):
    RXGRAPHQL["CAPTURE"] = os.environ["RXGRAPHQL_BENCH_CAPTURE"]

POOLED = importlib.util.find_spec("psycopg_pool") is not None
if POOLED:
    # Every thread that touches the database holds one connection while it works (the ASGI request threads,
    # the flusher, the writer thread of the agent); a subscription's checks return theirs at once.
    DATABASES["default"]["OPTIONS"] = {"pool": {"min_size": 4, "max_size": 16, "timeout": 30}}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    DATABASES["default"]["CONN_MAX_AGE"] = 300
