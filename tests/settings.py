"""Django settings for the test suite: the example project, on PostgreSQL.

The live tests need a database that several threads (the test, the server's workers)
see at once with real commits, which SQLite in memory cannot give; PostgreSQL can.
"""

import sys
from pathlib import Path

EXAMPLE_DIR = Path(__file__).resolve().parent.parent / "example"
if str(EXAMPLE_DIR) not in sys.path:
    sys.path.insert(0, str(EXAMPLE_DIR))

import os  # noqa: E402

from example_project import settings as example_settings  # noqa: E402
from example_project.settings import *  # noqa: E402, F403
from example_project.settings import postgres_database  # noqa: E402

DATABASES = {
    "default": postgres_database(
        os.environ.get("RXGRAPHQL_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    )
}
DEBUG = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
RXGRAPHQL = dict(example_settings.RXGRAPHQL)
