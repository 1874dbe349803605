"""Two ASGI server processes and writer processes outside them, all writing concurrently: clients on both
servers end with the serializer's output. Then the faults: Redis killed and restarted, a heater killed
mid-heat, a server killed and its clients moving to the other one."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from tests.multiproc.conftest import MONGO_KIND, Cluster, Server
from tests.support.aio import LoopThread
from tests.support.live import Event, LiveClient, Watcher
from tests.support.rebuild import MissingRecordError
from tests.support.waiting import wait_until
from tests.support.world import BoardWorld, board_expected

pytestmark = pytest.mark.timeout(240)
CHANNEL = "board.channels.BoardChannel"


@pytest.fixture
def clients(aio: LoopThread) -> Iterator[list[LiveClient]]:
    made: list[LiveClient] = []
    yield made
    for client in made:
        with contextlib.suppress(Exception):
            client.close()


def connect(clients: list[LiveClient], aio: LoopThread, server: Server, world: BoardWorld) -> LiveClient:
    client = LiveClient(aio, server.ws_url).connect(world.token(world.alice))
    clients.append(client)
    return client


def writers(
    cluster: Cluster, world: BoardWorld, seeds: list[int], steps: int, pause: float = 0.0, die: bool = False
) -> list[subprocess.Popen[bytes]]:
    boards = f"{world.board_a.pk},{world.board_b.pk}"
    people = ",".join(str(u.pk) for u in (world.alice, world.bob, world.carol, world.dave))
    return [
        cluster.writer(
            "--seed",
            str(seed),
            "--steps",
            str(steps),
            "--boards",
            boards,
            "--people",
            people,
            "--pause",
            str(pause),
            *(["--die"] if die else []),
        )
        for seed in seeds
    ]


def has_title(board_id: int, title: str):  # type: ignore[no-untyped-def]
    def check(event: Event) -> bool:
        return any(
            r["__typename"] == "Board" and str(r["id"]) == str(board_id) and r.get("title") == title
            for r in event["records"]
        )

    return check


def converge(cluster: Cluster, world: BoardWorld, watchers: list[Watcher], marker: str) -> None:
    """A last write from a writer process, then every watcher must equal the serializer's output."""
    cluster.wait([cluster.writer("--marker", marker, "--boards", f"{world.board_a.pk},{world.board_b.pk}")])
    for number, watcher in enumerate(watchers):
        board_id = int(str(watcher.root_id))
        try:
            watcher.until(has_title(board_id, marker), timeout=30)
        except Exception as error:
            raise AssertionError(
                f"watcher {number} saw no marker: {error!r}\n{diagnose(cluster, world)}\n{cluster.log_text()}"
            ) from error
        try:
            rebuilt = watcher.tree()
        except MissingRecordError as missing:
            raise AssertionError(f"watcher {number}: {missing}\n{cluster.log_text()}") from None
        assert rebuilt == board_expected(board_id), f"watcher {number} of board {board_id}"


def diagnose(cluster: Cluster, world: BoardWorld) -> str:
    try:
        client = redis.Redis(port=cluster.redis.port)
        topics = [f"rx:{CHANNEL}:{b.pk}" for b in (world.board_a, world.board_b)]
        return (
            f"subscribers {client.pubsub_numsub(*topics)}, active {client.hgetall(f'rx:act:{CHANNEL}')}, "
            f"states {[client.hgetall(f'rx:s:{CHANNEL}:{b.pk}') for b in (world.board_a, world.board_b)]}"
        )
    except Exception as error:
        return f"no diagnosis: {error!r}"


def watch_both(
    clients: list[LiveClient], aio: LoopThread, servers: list[Server], world: BoardWorld
) -> list[Watcher]:
    watchers = []
    for server in servers:
        client = connect(clients, aio, server, world)
        for board in (world.board_a, world.board_b):
            watcher = client.watch_board(board.pk)
            watcher.ready()
            watchers.append(watcher)
    return watchers


@pytest.mark.parametrize("seed", [11, 22, 33], ids=lambda s: f"{MONGO_KIND}-seed{s}")
def test_two_servers_and_writer_processes_converge(
    seed: int, cluster: Cluster, board_world: BoardWorld, aio: LoopThread, clients: list[LiveClient]
) -> None:
    servers = [cluster.server(), cluster.server()]
    watchers = watch_both(clients, aio, servers, board_world)
    cluster.wait(writers(cluster, board_world, [seed, seed + 1, seed + 2], steps=40))
    # A late subscriber on each server, after the writes.
    for server in servers:
        late = connect(clients, aio, server, board_world).watch_board(board_world.board_a.pk)
        late.ready()
        watchers.append(late)
    converge(cluster, board_world, watchers, f"marker-{seed}")


def test_redis_killed_and_restarted_while_clients_watch_and_writers_write(
    cluster: Cluster, board_world: BoardWorld, aio: LoopThread, clients: list[LiveClient]
) -> None:
    servers = [cluster.server(), cluster.server()]
    watchers = watch_both(clients, aio, servers, board_world)
    running = writers(cluster, board_world, [5, 6], steps=60, pause=0.03)
    time.sleep(1.0)
    cluster.redis.kill()
    time.sleep(1.5)
    cluster.redis.start()
    cluster.wait(running)
    converge(cluster, board_world, watchers, "after-redis-restart")


def _state(cluster: Cluster, board_id: int) -> str | None:
    raw = redis.Redis(port=cluster.redis.port).hget(f"rx:s:{CHANNEL}:{board_id}", "state")
    return raw.decode() if raw else None


def test_a_heater_killed_mid_heat_leaves_the_anchor_to_the_next_subscriber_once_its_lease_expires(
    cluster: Cluster, board_world: BoardWorld, aio: LoopThread, clients: list[LiveClient]
) -> None:
    slow = cluster.server(slow_heat=60)
    other = cluster.server()
    board = board_world.board_a.pk
    connect(clients, aio, slow, board_world).watch_board(board)
    wait_until(lambda: _state(cluster, board) == "heating", "the slow server starts heating the board")
    slow.kill()
    # The dead heater would hold the anchor for 60 s and never finish it: only its lease (3 s) expiring
    # lets the other server heat it. The timeout is a hang guard, far above the lease; nothing is timed.
    watcher = connect(clients, aio, other, board_world).watch_board(board)
    watcher.ready(timeout=60)
    assert _state(cluster, board) == "hot"
    assert watcher.tree() == board_expected(board)
    cluster.wait(writers(cluster, board_world, [7], steps=30))
    converge(cluster, board_world, [watcher], "after-dead-heater")


def test_a_server_killed_its_clients_resume_on_the_other(
    cluster: Cluster, board_world: BoardWorld, aio: LoopThread, clients: list[LiveClient]
) -> None:
    doomed, survivor = cluster.server(), cluster.server()
    on_doomed = watch_both(clients, aio, [doomed], board_world)
    on_survivor = watch_both(clients, aio, [survivor], board_world)
    running = writers(cluster, board_world, [8, 9], steps=50, pause=0.02)
    time.sleep(1.0)
    doomed.kill()
    moved_client = connect(clients, aio, survivor, board_world)
    moved = [moved_client.resume_board(previous) for previous in on_doomed]
    for watcher in moved:
        watcher.ready()
    cluster.wait(running)
    converge(cluster, board_world, on_survivor + moved, "after-server-death")
