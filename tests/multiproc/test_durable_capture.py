"""Durable capture: writer processes SIGKILLed right after COMMIT lose no change for any subscriber.

Each writer makes a few random writes on the two boards and kills itself with SIGKILL a random fraction of
a few milliseconds after its last COMMIT, before it could propagate anything. With trigger capture the
changes are in the outbox of the same transactions and the servers propagate them; every watcher on both
servers must end equal to the serializer's output. With ``RXGRAPHQL_MP_CAPTURE=signals`` (changes held in
the dying process's memory) this test fails: that is the loss trigger capture exists to prevent.
"""

from __future__ import annotations

import random
import signal

import pytest

from tests.multiproc.conftest import MONGO_KIND, Cluster
from tests.multiproc.test_convergence import clients, converge, watch_both, writers  # noqa: F401
from tests.support.aio import LoopThread
from tests.support.live import LiveClient
from tests.support.world import BoardWorld

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize("seed", [41, 42, 43], ids=lambda s: f"{MONGO_KIND}-seed{s}")
def test_writers_killed_after_commit_lose_no_change(
    seed: int, cluster: Cluster, board_world: BoardWorld, aio: LoopThread, clients: list[LiveClient]  # noqa: F811
) -> None:
    servers = [cluster.server(), cluster.server()]
    watchers = watch_both(clients, aio, servers, board_world)
    rng = random.Random(seed)
    for run in range(8):
        (writer,) = writers(cluster, board_world, [seed * 100 + run], steps=rng.randint(2, 10), die=True)
        assert writer.wait(120) == -signal.SIGKILL, f"writer {run} was not killed; see {cluster.logs}"
    converge(cluster, board_world, watchers, f"after-kills-{seed}")
