"""Django settings of the benchmarks: the test suite's settings on a database of their own.

``RXGRAPHQL_BENCH_DATABASE_URL`` names the PostgreSQL database (created and dropped by the suite).
``CACHE_TTL`` is 0 so that an anchor is freed as soon as its last subscriber leaves: the next
subscription is then a cold one.
"""

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
RXGRAPHQL = {**_TEST_RXGRAPHQL, "CACHE_TTL": 0, "REDIS_URL": None, "MONGO_URL": None}
# Persistent database connections, as a production deployment has them (or a pool): without them every
# request and every subscription's permission check opens a new PostgreSQL connection (~5 ms here).
DATABASES["default"]["CONN_MAX_AGE"] = 300
