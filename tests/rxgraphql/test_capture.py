"""Trigger capture on PostgreSQL: what the triggers record, how they are kept in step, how the outbox is
claimed (rows survive a failed or killed propagation, two claimers never take the same row)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from board.models import Board, Card, Column, Label
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import DEFAULT_DB_ALIAS, OperationalError, connection, transaction
from pytest_django.fixtures import Settings as SettingsWrapper

from rxgraphql import touch
from rxgraphql.backends import BackendUnavailableError
from rxgraphql.capture import capture_mode, stop_capture, triggers
from rxgraphql.capture.outbox import CLAIM, Propagator, _connection_params, _Retry
from rxgraphql.checks import check_capture

Row = tuple[str, str, str, list[str] | None]


@pytest.fixture
def outbox(transactional_db: None) -> Iterator[None]:
    """An empty outbox that no propagator of this process drains while the test looks at it."""
    assert capture_mode() == "triggers"
    stop_capture()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {triggers.OUTBOX}")
    yield
    triggers.sync()


def outbox_rows() -> list[Row]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tbl, pk, op, fields FROM {triggers.OUTBOX} ORDER BY id")
        found = cursor.fetchall()
    return [(tbl, pk, op, sorted(fields) if fields else None) for tbl, pk, op, fields in found]


def clear_outbox() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {triggers.OUTBOX}")


@pytest.fixture
def board(outbox: None) -> Board:
    owner = User.objects.create(username="owner")
    made = Board.objects.create(title="B", owner=owner)
    clear_outbox()
    return made


def test_every_layer_table_and_every_m2m_table_between_layers_is_captured() -> None:
    wanted = triggers.wanted_triggers()
    for model in (Board, Column, Card, Label, User):
        table = model._meta.db_table
        assert wanted[table].keys == [("id", table)]
        assert wanted[table].compared == [str(f.column) for f in model._meta.concrete_fields]
    labels = wanted[Card.labels.through._meta.db_table]
    assert labels.keys == [("card_id", Card._meta.db_table), ("label_id", Label._meta.db_table)]
    assert labels.compared == []
    members = wanted[Board.members.through._meta.db_table]
    assert members.keys == [("board_id", Board._meta.db_table), ("user_id", User._meta.db_table)]


def test_migrate_left_the_triggers_in_step(transactional_db: None) -> None:
    assert triggers.status().in_step
    assert check_capture(databases=[DEFAULT_DB_ALIAS]) == []


def test_a_missing_trigger_is_reported_and_reinstalled(outbox: None) -> None:
    table = Card._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER {triggers.TRIGGER} ON {table}")
    assert triggers.status().missing == (table,)
    (warning,) = check_capture(databases=[DEFAULT_DB_ALIAS])
    assert warning.id == "rxgraphql.W002"
    assert table in warning.msg
    with pytest.raises(CommandError, match="not in step"):
        call_command("rxgraphql_capture", "--check", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("rxgraphql_capture", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert triggers.status().in_step


def test_a_trigger_no_channel_needs_is_dropped(outbox: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE rx_unrelated (id int PRIMARY KEY)")
        cursor.execute(
            f"CREATE FUNCTION {triggers.FUNCTION_PREFIX}rx_unrelated() RETURNS trigger LANGUAGE plpgsql "
            "AS $$ BEGIN RETURN NULL; END $$"
        )
        cursor.execute(
            f"CREATE TRIGGER {triggers.TRIGGER} AFTER INSERT ON rx_unrelated "
            f"FOR EACH ROW EXECUTE FUNCTION {triggers.FUNCTION_PREFIX}rx_unrelated()"
        )
    try:
        assert triggers.status().extra == ("rx_unrelated",)
        triggers.sync()
        assert triggers.status().in_step
        with connection.cursor() as cursor:
            name = f"{triggers.FUNCTION_PREFIX}rx_unrelated"
            cursor.execute("SELECT count(*) FROM pg_proc WHERE proname = %s", [name])
            assert cursor.fetchone() == (0,)  # its function went with it
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE rx_unrelated")


def test_remove_drops_everything_and_sync_brings_it_back(outbox: None) -> None:
    call_command("rxgraphql_capture", "--remove", stdout=open("/dev/null", "w"))  # noqa: SIM115
    found = triggers.status()
    assert not found.outbox
    assert not found.extra
    assert set(found.missing) == set(triggers.wanted_triggers())
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_proc WHERE proname LIKE 'rxgraphql\\_capture\\_%'")
        assert cursor.fetchone() == (0,)
    Board.objects.create(title="unrecorded", owner=User.objects.create(username="u"))
    triggers.sync()
    assert triggers.status().in_step
    assert outbox_rows() == []


def test_an_update_records_the_row_and_its_changed_columns(board: Board) -> None:
    column = Column.objects.create(board=board, title="c")
    card = Card.objects.create(column=column, title="t")
    clear_outbox()
    Card.objects.filter(pk=card.pk).update(title="t2", position=3)
    assert outbox_rows() == [(Card._meta.db_table, str(card.pk), "U", ["position", "title"])]


def test_an_update_that_changes_nothing_records_nothing(board: Board) -> None:
    Board.objects.filter(pk=board.pk).update(title="B")
    board.save()
    assert outbox_rows() == []


def test_inserts_and_deletes_record_the_row(board: Board) -> None:
    column = Column.objects.create(board=board, title="c")
    column_pk = str(column.pk)
    column.delete()
    assert outbox_rows() == [
        (Column._meta.db_table, column_pk, "I", None),
        (Column._meta.db_table, column_pk, "D", None),
    ]


def test_a_many_to_many_change_records_both_ends(board: Board) -> None:
    column = Column.objects.create(board=board, title="c")
    card = Card.objects.create(column=column, title="t")
    label = Label.objects.create(board=board, name="l", color="#000000")
    clear_outbox()
    card.labels.add(label)
    card.labels.clear()
    assert outbox_rows() == [
        (Card._meta.db_table, str(card.pk), "I", None),
        (Label._meta.db_table, str(label.pk), "I", None),
        (Card._meta.db_table, str(card.pk), "D", None),
        (Label._meta.db_table, str(label.pk), "D", None),
    ]


def test_a_rolled_back_transaction_leaves_nothing_in_the_outbox(board: Board) -> None:
    class RolledBackError(Exception):
        pass

    def write_then_fail() -> None:
        with transaction.atomic():
            Board.objects.filter(pk=board.pk).update(title="gone")
            touch(board)
            raise RolledBackError

    with pytest.raises(RolledBackError):
        write_then_fail()
    assert outbox_rows() == []


def test_touch_writes_the_outbox(board: Board) -> None:
    touch(board)
    assert outbox_rows() == [(Board._meta.db_table, str(board.pk), "T", None)]


def _claim(conn: psycopg.Connection[tuple[object, ...]], limit: int = 100) -> list[str]:
    return [str(row[2]) for row in conn.execute(CLAIM, [limit]).fetchall()]


def test_two_claimers_never_take_the_same_rows_and_a_killed_claim_leaves_its_rows(board: Board) -> None:
    for n in range(4):
        Board.objects.filter(pk=board.pk).update(title=f"v{n}")
    params = _connection_params(DEFAULT_DB_ALIAS)
    with psycopg.connect(**params) as first, psycopg.connect(**params) as second:
        taken = _claim(first, 2)
        others = _claim(second, 100)
        assert len(taken) == 2
        assert len(others) == 2
        first.close()  # dies mid-batch: its claim is rolled back
        second.commit()
    assert len(outbox_rows()) == 2


@pytest.mark.parametrize(
    "outage",
    [
        BackendUnavailableError("redis is restarting"),  # a stand-in for Redis restarting
        OperationalError("terminating connection due to administrator command"),  # a database restart
    ],
    ids=["backend", "database connection"],
)
def test_a_batch_whose_backend_or_database_is_unreachable_stays_in_the_outbox(
    board: Board, monkeypatch: pytest.MonkeyPatch, outage: Exception
) -> None:
    from rxgraphql import propagate

    def unreachable(*args: object, **kwargs: object) -> int:
        raise outage

    monkeypatch.setattr(propagate, "needed", lambda changes, cache: list(changes))
    monkeypatch.setattr(propagate, "propagate", unreachable)
    Board.objects.filter(pk=board.pk).update(title="kept")
    params = _connection_params(DEFAULT_DB_ALIAS)
    with (
        psycopg.connect(**params, autocommit=True) as claimer,
        pytest.raises(_Retry, match=str(outage)),
    ):
        Propagator()._propagate_one_batch(claimer)
    assert outbox_rows() == [(Board._meta.db_table, str(board.pk), "U", ["title"])]


def test_a_batch_that_fails_for_another_reason_is_reported_and_not_retried(
    board: Board, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from rxgraphql import propagate

    def broken(*args: object, **kwargs: object) -> int:  # retrying would block every later change
        raise ValueError("a serializer that cannot render this row")

    monkeypatch.setattr(propagate, "needed", lambda changes, cache: list(changes))
    monkeypatch.setattr(propagate, "propagate", broken)
    Board.objects.filter(pk=board.pk).update(title="dropped")
    with psycopg.connect(**_connection_params(DEFAULT_DB_ALIAS), autocommit=True) as claimer:
        assert Propagator().drain(claimer) == 1
    assert outbox_rows() == []
    assert "could not propagate 1 changed rows" in caplog.text


def test_a_drained_batch_is_deleted(board: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    from rxgraphql import propagate

    seen: list[object] = []
    monkeypatch.setattr(propagate, "needed", lambda changes, cache: list(changes))
    monkeypatch.setattr(
        propagate, "propagate", lambda changes, cache, broker, fields, carried: seen.extend(changes) or 1
    )
    Board.objects.filter(pk=board.pk).update(title="once")
    Board.objects.filter(pk=board.pk).update(title="twice")
    with psycopg.connect(**_connection_params(DEFAULT_DB_ALIAS), autocommit=True) as claimer:
        assert Propagator().drain(claimer) == 2
    assert seen == [(Board, str(board.pk))]  # two outbox rows of one row: one propagation
    assert outbox_rows() == []


def test_the_changed_columns_reach_propagation_as_field_names(board: Board) -> None:
    from rxgraphql.capture.outbox import changed_fields

    column = Column.objects.create(board=board, title="c")
    other = Column.objects.create(board=board, title="d")
    card = Card.objects.create(column=column, title="t")
    clear_outbox()
    Card.objects.filter(pk=card.pk).update(title="t2")
    Card.objects.filter(pk=card.pk).update(column=other)
    Column.objects.filter(pk=other.pk).update(position=4)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, tbl, pk, fields, 0.0 FROM {triggers.OUTBOX} ORDER BY id")
        updates = cursor.fetchall()
    assert changed_fields(updates) == {
        (Card, str(card.pk)): frozenset({"title", "column"}),
        (Column, str(other.pk)): frozenset({"position"}),
    }
    Column.objects.filter(pk=other.pk).delete()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, tbl, pk, fields, 0.0 FROM {triggers.OUTBOX} ORDER BY id")
        everything = cursor.fetchall()
    assert changed_fields(everything)[(Column, str(other.pk))] is None  # deleted: anything changed


def test_a_column_added_to_a_layer_table_replaces_its_function(
    board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = Column._meta.db_table
    original = triggers.wanted_triggers

    def with_new_column() -> dict[str, triggers.TableCapture]:
        wanted = original()
        wanted[table].compared.append("rx_extra")  # what a migration adding a model field does
        return wanted

    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} ADD COLUMN rx_extra int")
    try:
        monkeypatch.setattr(triggers, "wanted_triggers", with_new_column)
        assert triggers.status().stale == (table,)
        triggers.sync()
        column = Column.objects.create(board=board, title="c")
        clear_outbox()
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET rx_extra = 1 WHERE id = %s", [column.pk])
        assert outbox_rows() == [(table, str(column.pk), "U", ["rx_extra"])]
    finally:
        monkeypatch.undo()
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table} DROP COLUMN rx_extra")


def test_a_changed_function_is_reported_stale_and_replaced(outbox: None) -> None:
    table = Card._meta.db_table
    function = triggers.wanted_triggers()[table].function
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql "
            "AS $$ BEGIN RETURN NULL; END $$"
        )
    assert triggers.status().stale == (table,)
    triggers.sync()
    assert triggers.status().in_step


def test_triggers_left_behind_by_signal_capture_are_reported(outbox: None, settings: SettingsWrapper) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "CAPTURE": "signals"}
    (warning,) = check_capture(databases=[DEFAULT_DB_ALIAS])
    assert warning.id == "rxgraphql.W003"
    call_command("rxgraphql_capture", "--remove", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert check_capture(databases=[DEFAULT_DB_ALIAS]) == []


def _listen(listener: psycopg.Connection[Any], *models: type[Any]) -> None:
    for model in models:
        listener.execute(f'LISTEN "{triggers.table_channel(model._meta.db_table)}"')


def _decoded(channel: str, payload: str) -> tuple[str, Any]:
    """A notification as (channel, its outbox row without id and time) or (channel, table name)."""
    from rxgraphql.capture.outbox import split_payloads

    rows, _carried, _names = split_payloads({payload})
    if not rows:
        return channel, payload
    (row,) = rows
    return channel, (row[1], row[2], row[3])


def test_a_notification_carries_its_outbox_row_on_the_channel_of_the_rows_table(board: Board) -> None:
    column = Column.objects.create(board=board, title="c")
    card = Card.objects.create(column=column, title="t", position=0)
    label = Label.objects.create(board=board, name="l", color="#000000")
    clear_outbox()
    with psycopg.connect(**_connection_params(DEFAULT_DB_ALIAS), autocommit=True) as listener:
        _listen(listener, Card, Label)
        Card.objects.filter(pk=card.pk).update(title="u")
        card.labels.add(label)
        notes = [_decoded(n.channel, n.payload) for n in listener.notifies(timeout=10, stop_after=3)]
    card_channel = triggers.table_channel(Card._meta.db_table)
    label_channel = triggers.table_channel(Label._meta.db_table)
    assert notes == [  # the update, then the link: both its ends
        (card_channel, (Card._meta.db_table, str(card.pk), ["title"])),
        (card_channel, (Card._meta.db_table, str(card.pk), None)),
        (label_channel, (Label._meta.db_table, str(label.pk), None)),
    ]
    assert len(outbox_rows()) == 3


def test_rows_past_the_first_of_a_transaction_notify_the_table_name_once(board: Board) -> None:
    column = Column.objects.create(board=board, title="c")
    many = triggers.DETAILED_ROWS + 10
    Card.objects.bulk_create(Card(column=column, title=f"t{i}", position=i) for i in range(many))
    clear_outbox()
    with psycopg.connect(**_connection_params(DEFAULT_DB_ALIAS), autocommit=True) as listener:
        _listen(listener, Card)
        Card.objects.filter(column=column).update(title="all")
        Card.objects.filter(column=column, position=0).update(title="alone")  # a new transaction
        channel = triggers.table_channel(Card._meta.db_table)
        with connection.cursor() as cursor:  # notifications come in commit order: this one comes last
            cursor.execute("SELECT pg_notify(%s, 'end')", [channel])
        notes = []
        for note in listener.notifies(timeout=10):
            if note.payload == "end":
                break
            notes.append(_decoded(note.channel, note.payload))
    payloads = [payload for _channel, payload in notes]
    whole = [p for p in payloads if isinstance(p, tuple)]
    assert len(whole) == triggers.DETAILED_ROWS + 1  # the count starts again with each transaction
    assert payloads.count(Card._meta.db_table) == 1
    alone = Card.objects.get(column=column, position=0)
    assert payloads[-1] == (Card._meta.db_table, str(alone.pk), ["title"])
    assert len(outbox_rows()) == many + 1  # the outbox has every row all the same


def test_a_row_too_long_for_a_payload_notifies_the_table_name(board: Board) -> None:
    column = Column.objects.create(board=board, title="c")
    card = Card.objects.create(column=column, title="t", position=0)
    clear_outbox()
    limit = triggers.MAX_PAYLOAD
    triggers.MAX_PAYLOAD = 10  # every payload is too long for the triggers installed now
    try:
        triggers.sync()
        with psycopg.connect(**_connection_params(DEFAULT_DB_ALIAS), autocommit=True) as listener:
            _listen(listener, Card)
            Card.objects.filter(pk=card.pk).update(title="long")
            notes = [n.payload for n in listener.notifies(timeout=10, stop_after=1)]
    finally:
        triggers.MAX_PAYLOAD = limit
        triggers.sync()
    assert notes == [Card._meta.db_table]
    assert outbox_rows() == [(Card._meta.db_table, str(card.pk), "U", ["title"])]


def test_an_updates_notification_carries_the_new_row_and_an_inserts_does_not(board: Board) -> None:
    from rxgraphql.capture.outbox import split_payloads

    column = Column.objects.create(board=board, title="c")
    clear_outbox()
    with psycopg.connect(**_connection_params(DEFAULT_DB_ALIAS), autocommit=True) as listener:
        _listen(listener, Card)
        card = Card.objects.create(column=column, title="t", position=0)
        Card.objects.filter(pk=card.pk).update(title="carried")
        payloads = [n.payload for n in listener.notifies(timeout=10, stop_after=2)]
    inserted, updated = (split_payloads({payload}) for payload in payloads)
    assert inserted[1] == {}
    ((row_id, _table, pk, fields, _at),) = updated[0]
    assert (pk, fields) == (str(card.pk), ["title"])
    values = updated[1][row_id]
    assert values["title"] == "carried"
    assert values["column_id"] == column.pk
    assert values["id"] == card.pk


def test_a_row_too_long_to_carry_is_notified_without_its_columns(board: Board) -> None:
    from rxgraphql.capture.outbox import split_payloads

    column = Column.objects.create(board=board, title="c")
    card = Card.objects.create(column=column, title="t", position=0)
    clear_outbox()
    with psycopg.connect(**_connection_params(DEFAULT_DB_ALIAS), autocommit=True) as listener:
        _listen(listener, Card)
        Card.objects.filter(pk=card.pk).update(description="x" * triggers.MAX_PAYLOAD)
        (payload,) = [n.payload for n in listener.notifies(timeout=10, stop_after=1)]
    rows, carried, others = split_payloads({payload})
    assert [(row[2], row[3]) for row in rows] == [(str(card.pk), ["description"])]  # the row, still
    assert carried == {}
    assert others == set()


def test_a_notified_update_hands_its_carried_columns_to_propagation(
    board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rxgraphql import propagate
    from rxgraphql.capture.outbox import split_payloads

    handed: list[Any] = []
    monkeypatch.setattr(propagate, "needed", lambda changes, cache: list(changes))
    monkeypatch.setattr(
        propagate, "propagate", lambda changes, cache, broker, fields, carried: handed.append(carried) or 1
    )
    params = _connection_params(DEFAULT_DB_ALIAS)
    with (
        psycopg.connect(**params, autocommit=True) as listener,
        psycopg.connect(**params, autocommit=True) as claimer,
    ):
        _listen(listener, Board)
        Board.objects.filter(pk=board.pk).update(title="carried along")
        payloads = {n.payload for n in listener.notifies(timeout=10, stop_after=1)}
        rows, carried, _others = split_payloads(payloads)
        assert Propagator().propagate_notified(claimer, rows, carried)
    ((values,),) = [list(carried.values()) for carried in handed]
    assert values["title"] == "carried along"
    assert list(handed[0]) == [(Board, str(board.pk))]


def test_carried_columns_are_used_only_when_every_row_of_the_batch_carried_them_after_any_claim() -> None:
    propagator = Propagator()
    table = Card._meta.db_table
    rows = [(5, table, "1", ["title"], 0.0), (6, table, "1", ["title"], 0.0), (7, table, "2", None, 0.0)]
    carried = {5: {"title": "a"}, 6: {"title": "b"}, 7: {"title": "c"}}
    assert propagator._newest_values(rows, carried) == {
        (Card, "1"): {"title": "b"},
        (Card, "2"): {"title": "c"},
    }
    assert propagator._newest_values(rows, {5: {"title": "a"}, 7: {"title": "c"}}) == {
        (Card, "2"): {"title": "c"}  # row 6 of card 1 carried nothing: card 1 is read back
    }
    propagator._claimed_up_to = 6  # a claim re-read card 1 at a later commit than rows 5 and 6
    assert propagator._newest_values(rows, carried) == {(Card, "2"): {"title": "c"}}


def test_with_the_shared_backends_a_notification_names_the_table_once_per_transaction(
    board: Board, settings: SettingsWrapper
) -> None:
    column = Column.objects.create(board=board, title="c")
    card = Card.objects.create(column=column, title="t", position=0)
    clear_outbox()
    embedded = settings.RXGRAPHQL
    settings.RXGRAPHQL = {
        **embedded,
        "REDIS_URL": "redis://127.0.0.1:1/0",  # never connected to: only the triggers are installed
        "MONGO_URL": "mongodb://127.0.0.1:1/",
    }
    assert not triggers.notifies_rows()
    assert triggers.status().stale  # the installed triggers carry rows: not what these backends want
    try:
        triggers.sync()
        with psycopg.connect(**_connection_params(DEFAULT_DB_ALIAS), autocommit=True) as listener:
            _listen(listener, Card)
            with transaction.atomic():
                Card.objects.filter(pk=card.pk).update(title="once")
                Card.objects.filter(pk=card.pk).update(position=2)
            Card.objects.filter(pk=card.pk).update(title="twice")
            notes = [n.payload for n in listener.notifies(timeout=10, stop_after=2)]
    finally:
        settings.RXGRAPHQL = embedded
        triggers.sync()
    assert notes == [Card._meta.db_table, Card._meta.db_table]
    assert [row[3] for row in outbox_rows()] == [["title"], ["position"], ["title"]]


def test_a_long_table_name_gets_a_channel_postgresql_keeps_whole() -> None:
    assert triggers.table_channel("board_card") == "rxgraphql_change_board_card"
    long = triggers.table_channel("t" * 63)
    assert len(long.encode()) <= 63
    assert long != triggers.table_channel("t" * 62 + "u")


def test_the_propagator_listens_to_the_tables_watched_and_to_no_other(board: Board) -> None:
    import asyncio

    from board.channels import BoardChannel

    from rxgraphql.backends import get_cache
    from rxgraphql.capture.outbox import follow

    def channels(listener: psycopg.Connection[Any]) -> set[str]:
        return {row[0] for row in listener.execute("SELECT pg_listening_channels()").fetchall()}

    name = BoardChannel._meta.channel_name
    with psycopg.connect(**_connection_params(DEFAULT_DB_ALIAS), autocommit=True) as listener:
        listening: set[str] = set()
        follow(listener, listening)
        # Nothing is hot: only the board table, whose rows the auto-updated list channel announces.
        assert channels(listener) == listening == {triggers.table_channel(Board._meta.db_table)}
        assert asyncio.run(get_cache().begin_heat(name, str(board.pk)))
        try:
            assert follow(listener, listening)  # a table started to be watched: the caller drains
            assert triggers.table_channel(Card._meta.db_table) in channels(listener)
            assert channels(listener) == listening
            assert not follow(listener, listening)
        finally:
            asyncio.run(get_cache().abort_heat(name, str(board.pk)))
        assert not follow(listener, listening)
        assert channels(listener) == {triggers.table_channel(Board._meta.db_table)}


def test_only_changes_some_channel_watches_are_claimed_at_once(board: Board) -> None:
    from rxgraphql.capture.outbox import DRAIN, _worth_claiming

    # Nobody watches a board's cards (no hot anchor): put off until the next regular look.
    assert not _worth_claiming({Card._meta.db_table})
    assert not _worth_claiming({Card._meta.db_table, f"{Card._meta.db_table},{Label._meta.db_table}"})
    # A board row is announced to the auto-updated list channel whoever watches.
    assert _worth_claiming({Card._meta.db_table, Board._meta.db_table})
    # A drain request, a touch() and a table this process does not know are claimed at once.
    assert _worth_claiming({DRAIN})
    assert _worth_claiming({""})
    assert _worth_claiming({"not_a_layer_table"})


def test_wait_propagated_claims_a_change_nobody_watches_at_once(
    board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from rxgraphql.capture import wait_propagated

    monkeypatch.setattr(Propagator, "idle_poll", 3600.0)  # no regular look could drain it
    listening = threading.Event()
    first_drain = Propagator.drain

    def drain(self: Propagator, claimer: Any) -> int:
        handled = first_drain(self, claimer)
        listening.set()  # the drain on connecting is over: from now on only notifications drain
        return handled

    monkeypatch.setattr(Propagator, "drain", drain)
    runner = Propagator()
    runner.start()
    try:
        assert listening.wait(30)
        column = Column.objects.create(board=board, title="c")
        Column.objects.filter(pk=column.pk).update(title="unwatched")
        assert outbox_rows() != []
        assert wait_propagated(30)
        assert outbox_rows() == []
    finally:
        runner.stop()


def test_a_propagator_started_again_waits_for_the_thread_whose_stop_timed_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    events: list[str] = []
    entered = threading.Event()
    release = threading.Event()

    def serve(self: Propagator) -> None:  # a stand-in for a batch that outlasts stop()'s wait
        events.append(f"enter {threading.current_thread().ident}")
        entered.set()
        release.wait(30)
        self._stop.wait(30)
        events.append(f"exit {threading.current_thread().ident}")

    monkeypatch.setattr(Propagator, "_serve", serve)
    runner = Propagator()
    runner.start()
    assert entered.wait(10)
    old = runner._thread
    assert old is not None
    runner.stop(timeout=0)
    assert old.is_alive()
    entered.clear()
    real_join = threading.Thread.join

    def join(thread: threading.Thread, timeout: float | None = None) -> None:
        if thread is old:
            release.set()  # the old batch ends once someone waits for it
        real_join(thread, timeout)

    monkeypatch.setattr(threading.Thread, "join", join)
    runner.start()
    assert entered.wait(10)
    new = runner._thread
    assert new is not None
    release.set()
    runner.stop()
    assert events == [f"enter {old.ident}", f"exit {old.ident}", f"enter {new.ident}", f"exit {new.ident}"]


def _recording(claimer: psycopg.Connection[Any]) -> tuple[list[str], Any]:
    """Record the queries ``claimer.execute`` sends; returns the record and the unrecorded ``execute``."""
    sent: list[str] = []
    real = claimer.execute

    def execute(query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(query))
        return real(query, *args, **kwargs)

    claimer.execute = execute  # type: ignore[method-assign]
    return sent, real


def test_a_claim_is_one_query_and_its_rows_come_back_when_the_batch_fails(board: Board) -> None:
    from rxgraphql.capture.outbox import ClaimedRow, _claimed

    Board.objects.filter(pk=board.pk).update(title="claimed")
    params = _connection_params(DEFAULT_DB_ALIAS)
    with psycopg.connect(**params, autocommit=True) as claimer:
        sent, real = _recording(claimer)
        seen: list[ClaimedRow] = []

        def fail() -> None:
            with _claimed(claimer, 10) as rows:
                seen.extend(rows)
                raise RuntimeError("the propagation failed")

        with pytest.raises(RuntimeError):
            fail()
        assert [row[1:3] for row in seen] == [(Board._meta.db_table, str(board.pk))]
        assert sent[0].startswith("BEGIN; SET LOCAL synchronous_commit TO off; DELETE")
        assert sent[1] == "ROLLBACK"
        assert outbox_rows() == [(Board._meta.db_table, str(board.pk), "U", ["title"])]
        with _claimed(claimer, 10) as rows:
            assert len(rows) == 1
            # The deletion alone may be lost by a crash (its rows are then propagated again).
            assert real("SHOW synchronous_commit").fetchone() == ("off",)
        assert sent[-1] == "COMMIT"
        assert real("SHOW synchronous_commit").fetchone() == ("on",)
    assert outbox_rows() == []


def test_a_propagator_told_of_a_new_anchor_listens_to_its_tables_and_claims_their_changes(
    board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import threading

    from board.channels import BoardChannel

    from rxgraphql.backends import get_cache

    monkeypatch.setattr(Propagator, "idle_poll", 3600.0)  # no regular look could claim it
    drains: list[int] = []
    connected, claimed = threading.Event(), threading.Event()
    first_drain = Propagator.drain

    def drain(self: Propagator, claimer: Any) -> int:
        handled = first_drain(self, claimer)
        drains.append(handled)
        (connected if len(drains) == 1 else claimed).set()
        return handled

    monkeypatch.setattr(Propagator, "drain", drain)
    name = BoardChannel._meta.channel_name
    runner = Propagator()
    runner.start()
    try:
        assert connected.wait(30)  # listening to the board table only: nothing is hot
        column = Column.objects.create(board=board, title="c")
        Card.objects.create(column=column, title="before anyone listened", position=0)
        assert outbox_rows() != []
        assert asyncio.run(get_cache().begin_heat(name, str(board.pk)))
        try:
            runner.watch_changed()
            assert claimed.wait(30)  # the card table is listened to, and what it changed is claimed
            assert outbox_rows() == []
        finally:
            asyncio.run(get_cache().abort_heat(name, str(board.pk)))
    finally:
        runner.stop()


def _notified_rows(listener: psycopg.Connection[Any], count: int) -> list[Any]:
    from rxgraphql.capture.outbox import split_payloads

    payloads = {n.payload for n in listener.notifies(timeout=10, stop_after=count)}
    rows, _carried, others = split_payloads(payloads)
    assert others == set()
    return rows


def test_rows_notified_whole_are_propagated_then_deleted_without_a_claim(
    board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed: list[Any] = []
    monkeypatch.setattr(Propagator, "_hand_over", lambda self, rows, carried=None: handed.extend(rows))
    column = Column.objects.create(board=board, title="c")
    clear_outbox()
    params = _connection_params(DEFAULT_DB_ALIAS)
    with (
        psycopg.connect(**params, autocommit=True) as listener,
        psycopg.connect(**params, autocommit=True) as claimer,
    ):
        _listen(listener, Column)
        Column.objects.filter(pk=column.pk).update(title="notified")
        Column.objects.filter(pk=column.pk).update(position=3)
        rows = _notified_rows(listener, 2)
        sent, _real = _recording(claimer)
        propagator = Propagator()
        assert propagator.propagate_notified(claimer, rows)
        assert sent == []  # their deletion is put off: no statement on the path of the next save
        assert len(outbox_rows()) == 2
        propagator.forget(claimer)
    assert [(row[1], row[2], row[3]) for row in handed] == [
        (Column._meta.db_table, str(column.pk), ["title"]),
        (Column._meta.db_table, str(column.pk), ["position"]),
    ]
    # one statement deletes both, and nothing was claimed
    assert [query.split(" WHERE")[0] for query in sent] == [f"DELETE FROM {triggers.OUTBOX}"]
    assert outbox_rows() == []


def test_rows_notified_whole_are_left_to_a_claim_when_a_backend_is_down(
    board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(self: Propagator, rows: Any, carried: Any = None) -> None:
        raise _Retry(BackendUnavailableError("a stand-in outage"))

    monkeypatch.setattr(Propagator, "_hand_over", unavailable)
    params = _connection_params(DEFAULT_DB_ALIAS)
    with (
        psycopg.connect(**params, autocommit=True) as listener,
        psycopg.connect(**params, autocommit=True) as claimer,
    ):
        _listen(listener, Board)
        Board.objects.filter(pk=board.pk).update(title="kept")
        assert not Propagator().propagate_notified(claimer, _notified_rows(listener, 1))
    assert outbox_rows() == [(Board._meta.db_table, str(board.pk), "U", ["title"])]


def test_rows_notified_whole_are_left_to_a_claim_with_a_shared_cache(
    board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rxgraphql.backends import get_cache

    handed: list[Any] = []
    monkeypatch.setattr(Propagator, "_hand_over", lambda self, rows, carried=None: handed.extend(rows))
    # The embedded cache standing in for a shared one: every process is notified, one claim propagates.
    monkeypatch.setattr(get_cache(), "shared", True)
    params = _connection_params(DEFAULT_DB_ALIAS)
    with (
        psycopg.connect(**params, autocommit=True) as listener,
        psycopg.connect(**params, autocommit=True) as claimer,
    ):
        _listen(listener, Board)
        Board.objects.filter(pk=board.pk).update(title="shared")
        assert not Propagator().propagate_notified(claimer, _notified_rows(listener, 1))
    assert handed == []
    assert outbox_rows() == [(Board._meta.db_table, str(board.pk), "U", ["title"])]


def test_a_running_propagator_propagates_a_notified_change_without_draining(
    board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    monkeypatch.setattr(Propagator, "idle_poll", 3600.0)  # no regular look could drain it
    drains: list[int] = []
    results: list[bool] = []
    connected, propagated = threading.Event(), threading.Event()
    first_drain, first_notified = Propagator.drain, Propagator.propagate_notified

    def drain(self: Propagator, claimer: Any) -> int:
        drains.append(first_drain(self, claimer))
        connected.set()
        return drains[-1]

    def notified(self: Propagator, claimer: Any, rows: Any, carried: Any = None) -> bool:
        done = first_notified(self, claimer, rows, carried)
        results.append(done)
        propagated.set()
        return done

    forgotten = threading.Event()
    first_forget = Propagator.forget

    def forget(self: Propagator, claimer: Any) -> None:
        pending = bool(self._forgettable)
        first_forget(self, claimer)
        if pending:
            forgotten.set()

    monkeypatch.setattr(Propagator, "drain", drain)
    monkeypatch.setattr(Propagator, "propagate_notified", notified)
    monkeypatch.setattr(Propagator, "forget", forget)
    runner = Propagator()
    runner.start()
    try:
        assert connected.wait(30)  # listening to the board table: the list channel announces its rows
        Board.objects.filter(pk=board.pk).update(title="announced")
        assert propagated.wait(30)
        assert results == [True]
        assert forgotten.wait(30)  # deleted once its deletion was due
        assert outbox_rows() == []
        assert len(drains) == 1  # the drain on connecting only
    finally:
        runner.stop()


def test_rows_propagated_from_notifications_are_deleted_before_a_claim_could_take_them(
    board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from rxgraphql.capture.outbox import request_drain

    monkeypatch.setattr(Propagator, "idle_poll", 3600.0)
    monkeypatch.setattr(Propagator, "forget_delay", 3600.0)  # only a claim makes them due
    handed: list[Any] = []
    drains: list[int] = []
    drained = threading.Event()
    first_drain, first_hand_over = Propagator.drain, Propagator._hand_over

    def drain(self: Propagator, claimer: Any) -> int:
        drains.append(first_drain(self, claimer))
        drained.set()
        return drains[-1]

    def hand_over(self: Propagator, rows: Any, carried: Any = None) -> None:
        handed.extend(rows)
        first_hand_over(self, rows, carried)

    monkeypatch.setattr(Propagator, "drain", drain)
    monkeypatch.setattr(Propagator, "_hand_over", hand_over)
    runner = Propagator()
    runner.start()
    try:
        assert drained.wait(30)
        drained.clear()
        Board.objects.filter(pk=board.pk).update(title="announced")
        request_drain()  # its notification comes after the change's
        assert drained.wait(30)
        assert [(row[1], row[2]) for row in handed] == [(Board._meta.db_table, str(board.pk))]  # once
        assert drains[-1] == 0  # the claim found the row deleted already
        assert outbox_rows() == []
    finally:
        runner.stop()
