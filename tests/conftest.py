"""Fixtures shared by the suite: a live server per test, websocket clients, example data.

The server runs in other threads than the test, so tests that use it need committed rows
(``transactional_db``) and a clean slate of rxgraphql's in-memory backends each time.
"""

import sys
from pathlib import Path

EXAMPLE_DIR = Path(__file__).resolve().parent.parent / "example"
if str(EXAMPLE_DIR) not in sys.path:
    sys.path.insert(0, str(EXAMPLE_DIR))

from collections.abc import Callable, Iterator  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from django.db import connection  # noqa: E402
from pytest_django import DjangoDbBlocker  # noqa: E402

from tests.support.aio import LoopThread  # noqa: E402
from tests.support.live import LiveClient  # noqa: E402
from tests.support.live_server import LiveServer  # noqa: E402
from tests.support.world import BoardWorld, make_board_world  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A skipped test fails: the suite runs everything, and a missing part is an error to fix."""
    outcome: Any = yield
    report: pytest.TestReport = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, which this suite does not allow: {reason}"


@pytest.fixture(scope="session")
def _release_test_database(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[None]:
    """Close server-side sessions other threads left open, so the test database can be dropped.

    Worker threads of the live servers keep their own database connections; Django drops
    the test database at the end of the session and PostgreSQL refuses while they exist.
    """
    yield
    from rxgraphql.capture import stop_capture

    stop_capture()  # the outbox propagator's connections would otherwise outlive the database
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def rx_server(transactional_db: None, _release_test_database: None) -> Iterator[LiveServer]:
    """The project's ASGI application under uvicorn, with fresh rxgraphql backends.

    Named apart from pytest-django's ``live_server``, which serves WSGI only.
    """
    from rxgraphql import backends
    from rxgraphql.asgi import get_asgi_application

    backends.reset()
    server = LiveServer(get_asgi_application()).start()
    try:
        yield server
    finally:
        server.stop()
        backends.reset()


@pytest.fixture
def aio() -> Iterator[LoopThread]:
    """An event loop in a background thread for the websocket clients."""
    loop = LoopThread()
    try:
        yield loop
    finally:
        loop.close()


@pytest.fixture
def ws_client(rx_server: LiveServer, aio: LoopThread) -> Iterator[Callable[[], LiveClient]]:
    """Factory of websocket clients of the live server, all closed after the test.

    Teardown also fails the test when a client saw a message breaking the protocol.
    """
    clients: list[LiveClient] = []

    def make() -> LiveClient:
        client = LiveClient(aio, rx_server.ws_url)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
    violations = [violation for client in clients for violation in client.violations]
    assert violations == []


@pytest.fixture
def board_world(transactional_db: None) -> BoardWorld:
    """Four users with tokens and two boards (see ``tests.support.world``)."""
    return make_board_world()


@pytest.fixture
def collector() -> Iterator[None]:
    """The cyclic collector enabled, nothing frozen before the test, and what it froze thawed after it."""
    import gc

    from rxgraphql import heap

    was_enabled = gc.isenabled()
    gc.enable()
    gc.unfreeze()
    heap._settled_size, heap._settle_due, heap._released, heap._freezes = 0, 0.0, False, 0
    try:
        yield
    finally:
        gc.unfreeze()
        heap._settled_size, heap._settle_due, heap._released, heap._freezes = 0, 0.0, False, 0
        gc.set_debug(0)
        gc.garbage.clear()
        if not was_enabled:
            gc.disable()
