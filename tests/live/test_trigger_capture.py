"""Trigger capture on PostgreSQL: writes that send no Django signal reach a live subscriber.

``QuerySet.update()``, ``bulk_create()``, ``bulk_update()``, raw SQL through ``connection.cursor()`` and a
separate ``psql`` process (no Django at all) each change the board; the subscriber's rebuilt state must
then equal ``BoardSerializer`` again. None of these calls ``touch()``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest
from board.models import Card, Column, Label
from django.db import connection, transaction

from rxgraphql.capture import capture_mode
from tests.support.live import Event, LiveClient, Watcher, find_record
from tests.support.world import BoardWorld, board_expected

ClientFactory = Callable[[], LiveClient]



@pytest.fixture
def watcher(board_world: BoardWorld, ws_client: ClientFactory) -> Watcher:
    assert capture_mode() == "triggers", "the test suite runs on PostgreSQL, where capture is by triggers"
    watched = ws_client().connect(board_world.token(board_world.alice)).watch_board(board_world.board_a.pk)
    watched.ready()
    return watched


def settles(watcher: Watcher, predicate: Callable[[Event], bool]) -> None:
    watcher.until(predicate)
    assert watcher.tree() == board_expected(int(str(watcher.root_id)))


def titled(type_name: str, pk: object, title: str) -> Callable[[Event], bool]:
    def check(event: Event) -> bool:
        record = find_record(event, type_name, pk)
        return record is not None and record.get("title") == title

    return check


def test_queryset_update_reaches_the_subscriber(board_world: BoardWorld, watcher: Watcher) -> None:
    card = Card.objects.get(title="Ship")
    Card.objects.filter(pk=card.pk).update(title="Shipped by update()")
    settles(watcher, titled("Card", card.pk, "Shipped by update()"))


def test_bulk_create_and_bulk_update_reach_the_subscriber(board_world: BoardWorld, watcher: Watcher) -> None:
    column = Column.objects.get(board=board_world.board_a, title="Done")
    made = Card.objects.bulk_create(
        [Card(column=column, title=f"bulk {n}", position=10 + n) for n in range(3)]
    )
    settles(watcher, lambda event: all(find_record(event, "Card", c.pk) for c in made))
    for card in made:
        card.title = f"{card.title} (edited)"
    Card.objects.bulk_update(made, ["title"])
    settles(watcher, titled("Card", made[-1].pk, "bulk 2 (edited)"))


def test_raw_sql_update_and_delete_reach_the_subscriber(board_world: BoardWorld, watcher: Watcher) -> None:
    card = Card.objects.get(title="Fix login")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Card._meta.db_table} SET title = %s WHERE id = %s", ["raw title", card.pk])
    settles(watcher, titled("Card", card.pk, "raw title"))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Card._meta.db_table} WHERE id = %s", [card.pk])
    settles(watcher, lambda event: {"type": "Card", "id": str(card.pk)} in event["deleted"])


def test_a_many_to_many_row_written_by_raw_sql_reaches_the_subscriber(
    board_world: BoardWorld, watcher: Watcher
) -> None:
    card = Card.objects.get(title="Fix login")
    label = Label.objects.get(board=board_world.board_a, name="bug")
    through = Card.labels.through._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {through} (card_id, label_id) VALUES (%s, %s)", [card.pk, label.pk])

    def labelled(event: Event) -> bool:
        record = find_record(event, "Card", card.pk)
        return record is not None and str(label.pk) in [str(pk) for pk in record["labels"]]

    settles(watcher, labelled)


def test_a_write_by_a_separate_psql_process_reaches_the_subscriber(
    board_world: BoardWorld, watcher: Watcher
) -> None:
    card = Card.objects.get(title="Write spec")
    settings = connection.settings_dict
    subprocess.run(
        [
            "psql",
            "-h",
            settings["HOST"] or "127.0.0.1",
            "-p",
            str(settings["PORT"] or 5432),
            "-U",
            settings["USER"],
            "-d",
            settings["NAME"],
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            f"UPDATE {Card._meta.db_table} SET title = 'from psql' WHERE id = {int(card.pk)}",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    settles(watcher, titled("Card", card.pk, "from psql"))


def test_a_rolled_back_raw_write_publishes_nothing(board_world: BoardWorld, watcher: Watcher) -> None:
    card = Card.objects.get(title="Ship")

    class RolledBack(Exception):
        pass

    def write_then_fail() -> None:
        with transaction.atomic():
            Card.objects.filter(pk=card.pk).update(title="never committed")
            raise RolledBack

    with pytest.raises(RolledBack):
        write_then_fail()
    Card.objects.filter(pk=card.pk).update(title="committed after")
    events = watcher.until(titled("Card", card.pk, "committed after"))
    assert all(not titled("Card", card.pk, "never committed")(event) for event in events)
    assert watcher.tree() == board_expected(board_world.board_a.pk)
