"""Django settings of the two-worker configuration: the bench settings on Redis and a MongoDB stand-in.

``bench.cluster`` starts the private redis-server and the stand-in and passes their URLs and a fresh
MongoDB database name through the environment.
"""

import os

from bench.settings import *  # noqa: F403
from bench.settings import RXGRAPHQL as _BENCH

RXGRAPHQL = {
    **_BENCH,
    "REDIS_URL": os.environ["RXGRAPHQL_BENCH_REDIS_URL"],
    "MONGO_URL": os.environ["RXGRAPHQL_BENCH_MONGO_URL"],
    "MONGO_DATABASE": os.environ.get("RXGRAPHQL_BENCH_MONGO_DATABASE", "rxgraphql_bench"),
}
