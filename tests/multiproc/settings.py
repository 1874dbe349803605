"""Settings of the processes the multi-process tests start: the test settings on the shared backends.

The test passes the database (its test database), Redis, MongoDB and the leases through the environment.
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import RXGRAPHQL as _BASE

RXGRAPHQL = {
    **_BASE,
    "REDIS_URL": os.environ["RXGRAPHQL_MP_REDIS_URL"],
    "MONGO_URL": os.environ["RXGRAPHQL_MP_MONGO_URL"],
    "MONGO_DATABASE": os.environ["RXGRAPHQL_MP_MONGO_DATABASE"],
    "HEAT_LEASE": float(os.environ.get("RXGRAPHQL_MP_HEAT_LEASE", "3")),
    "SUBSCRIBER_LEASE": 6.0,
    "PING_INTERVAL": 2.0,
    # "signals" shows what trigger capture prevents (tests/multiproc/test_durable_capture.py fails).
    "CAPTURE": os.environ.get("RXGRAPHQL_MP_CAPTURE", "auto"),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {
        "rxgraphql": {"handlers": ["stderr"], "level": os.environ.get("RXGRAPHQL_MP_LOG", "WARNING")}
    },
}
