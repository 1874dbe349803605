"""The PostgreSQL side of trigger capture: the outbox table, the trigger function, one trigger per table.

One generic row trigger, ``rxgraphql_capture``, sits on every table a layer reads and on every
many-to-many table between layer models. Its arguments are pairs ``(column, table)``: for each pair it
writes ``(table, the row's value of column)`` into the outbox, for the new row and, when the value
changed or the row is gone, for the old one. A layer table passes ``(its primary key, itself)``; a
many-to-many table passes its two foreign keys with the tables they point to, so an ``add()`` records
both ends exactly as ``m2m_changed`` does. An UPDATE that changes no column records nothing. The first
change of a transaction sends ``NOTIFY rxgraphql_change`` (PostgreSQL delivers one per transaction and
payload), after COMMIT, to the propagators that listen.

:func:`sync` makes the installed triggers equal to the wanted ones (it runs after every ``migrate`` and
from ``manage.py rxgraphql_capture``); :func:`status` compares them without changing anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction

OUTBOX = "rxgraphql_change"
FUNCTION = "rxgraphql_capture"
TRIGGER = "rxgraphql_capture"
CHANNEL = "rxgraphql_change"

OUTBOX_DDL = f"""
CREATE TABLE IF NOT EXISTS {OUTBOX} (
    id bigserial PRIMARY KEY,
    tbl text NOT NULL,
    pk text NOT NULL,
    op "char" NOT NULL,
    fields text[],
    created_at timestamptz NOT NULL DEFAULT now()
)
"""

FUNCTION_BODY = f"""
DECLARE
    new_row jsonb;
    old_row jsonb;
    changed text[];
    new_value text;
    old_value text;
BEGIN
    IF TG_OP <> 'DELETE' THEN new_row := to_jsonb(NEW); END IF;
    IF TG_OP <> 'INSERT' THEN old_row := to_jsonb(OLD); END IF;
    IF TG_OP = 'UPDATE' THEN
        SELECT array_agg(n.key) INTO changed FROM jsonb_each(new_row) AS n
            WHERE old_row -> n.key IS DISTINCT FROM n.value;
        IF changed IS NULL THEN RETURN NULL; END IF;
    END IF;
    FOR i IN 0 .. TG_NARGS / 2 - 1 LOOP
        new_value := new_row ->> TG_ARGV[2 * i];
        old_value := old_row ->> TG_ARGV[2 * i];
        IF new_value IS NOT NULL THEN
            INSERT INTO {OUTBOX} (tbl, pk, op, fields)
                VALUES (TG_ARGV[2 * i + 1], new_value, left(TG_OP, 1), changed);
        END IF;
        IF old_value IS NOT NULL AND old_value IS DISTINCT FROM new_value THEN
            INSERT INTO {OUTBOX} (tbl, pk, op, fields)
                VALUES (TG_ARGV[2 * i + 1], old_value, left(TG_OP, 1), changed);
        END IF;
    END LOOP;
    PERFORM pg_notify('{CHANNEL}', '');
    RETURN NULL;
END
"""

Arguments = tuple[str, ...]


@dataclass(frozen=True)
class CaptureStatus:
    """What is installed against what the channels need."""

    outbox: bool
    function_current: bool
    missing: dict[str, Arguments]
    stale: dict[str, Arguments]
    extra: tuple[str, ...]

    @property
    def in_step(self) -> bool:
        complete = self.outbox and self.function_current
        return complete and not self.missing and not self.stale and not self.extra


def _concrete(model: type[models.Model]) -> type[models.Model]:
    return model._meta.concrete_model or model


def captured_models() -> set[type[models.Model]]:
    from ..registry import registry

    return {_concrete(model) for model in registry.by_model}


def wanted_triggers() -> dict[str, Arguments]:
    """Per table, the ``(column, table)`` pairs its trigger records: layer tables and m2m tables."""
    shown = captured_models()
    pairs: dict[str, list[tuple[str, str]]] = {}

    def want(table: str, column: str, target: str) -> None:
        listed = pairs.setdefault(table, [])
        if (column, target) not in listed:
            listed.append((column, target))

    for model in sorted(shown, key=lambda m: m._meta.db_table):
        pk = model._meta.pk
        assert pk is not None
        want(model._meta.db_table, str(pk.column), model._meta.db_table)
    for model in sorted(apps.get_models(), key=lambda m: m._meta.label):
        for field in model._meta.local_many_to_many:
            through = field.remote_field.through
            if through is None or isinstance(through, str):
                continue
            target = field.remote_field.model
            if isinstance(target, str):
                continue
            source, other = _concrete(model), _concrete(target)
            if source not in shown and other not in shown:
                continue
            table = through._meta.db_table
            if source in shown:
                want(table, field.m2m_column_name(), source._meta.db_table)
            if other in shown:
                want(table, field.m2m_reverse_name(), other._meta.db_table)
    return {table: tuple(part for pair in listed for part in pair) for table, listed in sorted(pairs.items())}


def _installed(cursor: object) -> dict[str, Arguments]:
    cursor.execute(  # type: ignore[attr-defined]
        "SELECT c.relname, t.tgargs FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE t.tgname = %s AND n.nspname = current_schema()",
        [TRIGGER],
    )
    found: dict[str, Arguments] = {}
    for table, raw in cursor.fetchall():  # type: ignore[attr-defined]
        parts = bytes(raw).split(b"\x00")[:-1]
        found[str(table)] = tuple(part.decode() for part in parts)
    return found


def _function_source(cursor: object) -> str | None:
    cursor.execute(  # type: ignore[attr-defined]
        "SELECT p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE p.proname = %s AND n.nspname = current_schema()",
        [FUNCTION],
    )
    row = cursor.fetchone()  # type: ignore[attr-defined]
    return None if row is None else str(row[0])


def _outbox_exists(cursor: object) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [OUTBOX])  # type: ignore[attr-defined]
    return bool(cursor.fetchone()[0])  # type: ignore[attr-defined]


def status(using: str = DEFAULT_DB_ALIAS) -> CaptureStatus:
    wanted = wanted_triggers()
    with connections[using].cursor() as cursor:
        installed = _installed(cursor)
        source = _function_source(cursor)
        outbox = _outbox_exists(cursor)
    existing_tables = set(connections[using].introspection.table_names())
    wanted = {table: args for table, args in wanted.items() if table in existing_tables}
    return CaptureStatus(
        outbox=outbox,
        function_current=source is not None and source.strip() == FUNCTION_BODY.strip(),
        missing={table: args for table, args in wanted.items() if table not in installed},
        stale={t: args for t, args in wanted.items() if t in installed and installed[t] != args},
        extra=tuple(sorted(set(installed) - set(wanted))),
    )


def _quote(using: str, name: str) -> str:
    return connections[using].ops.quote_name(name)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _create_trigger(using: str, table: str, args: Iterable[str]) -> str:
    arguments = ", ".join(_literal(arg) for arg in args)
    return (
        f"CREATE TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON {_quote(using, table)} "
        f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}({arguments})"
    )


def sync(using: str = DEFAULT_DB_ALIAS) -> CaptureStatus:
    """Install the outbox and the function, add missing triggers, replace changed ones, drop unneeded ones.

    Returns the status found before the change; nothing is executed when everything is in step.
    """
    before = status(using)
    if before.in_step:
        return before
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        if not before.outbox:
            cursor.execute(OUTBOX_DDL)
        if not before.function_current:
            cursor.execute(
                f"CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql "
                f"AS $rxgraphql${FUNCTION_BODY}$rxgraphql$"
            )
        for table in (*before.stale, *before.extra):
            cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {_quote(using, table)}")
        for table, args in {**before.missing, **before.stale}.items():
            cursor.execute(_create_trigger(using, table, args))
    return before


def remove(using: str = DEFAULT_DB_ALIAS) -> None:
    """Drop every capture trigger, the function and the outbox (switching back to signals)."""
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        for table in _installed(cursor):
            cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {_quote(using, table)}")
        cursor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
        cursor.execute(f"DROP TABLE IF EXISTS {OUTBOX}")
