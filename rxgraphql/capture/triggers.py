"""The PostgreSQL side of trigger capture: the outbox table, and one trigger and its function per table.

Every table a layer reads, and every many-to-many table between layer models, gets a row trigger,
``rxgraphql_capture``, calling a function generated for that table, ``rxgraphql_capture_<table>``. The
function writes ``(table, primary key)`` into the outbox: for a layer table its own row (the old one too
when a delete or an update of the key makes it go), for a many-to-many table both rows its foreign keys
name, exactly as ``m2m_changed`` does. An UPDATE records the columns it changed, compared one by one (a
generic function comparing ``to_jsonb`` of both rows measured four times slower), and an UPDATE that
changes nothing records nothing. A change notifies the channel of its table (``table_channel``:
``rxgraphql_change_<table>``), delivered after COMMIT, so that a propagator listening only to the tables
some channel watches is never woken by the others. With the embedded backends (``notifies_rows``) each of
the first ``DETAILED_ROWS`` outbox rows of a transaction is its own notification, carrying the row as
payload (``[id, table, pk, changed columns, written at]`` in JSON, and for an UPDATE of a layer table's
row its new columns as a sixth element while they fit), so that the propagator can propagate it before
it claims anything, from those columns without reading the row back when they say enough; later rows,
one whose payload would be too long, and every row with the shared backends notify the table's name,
which PostgreSQL delivers once per transaction and channel, and are claimed from the outbox.
``rxgraphql_change`` itself carries drain requests and ``touch()``.

:func:`sync` makes the installed triggers and functions equal to the wanted ones (it runs after every
``migrate`` and from ``manage.py rxgraphql_capture``); :func:`status` compares them without changing
anything.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction

OUTBOX = "rxgraphql_change"
TRIGGER = "rxgraphql_capture"
FUNCTION_PREFIX = "rxgraphql_capture_"
CHANNEL = "rxgraphql_change"
#: Outbox rows of one transaction whose notification carries the row itself (later ones: the table name).
DETAILED_ROWS = 64
#: The longest such payload, in bytes (PostgreSQL refuses a payload of 8000 bytes or more).
MAX_PAYLOAD = 4000
#: The transaction-local setting counting the detailed notifications sent so far.
DETAILED = "rxgraphql.detailed_notifications"

OUTBOX_DDL = f"""
CREATE TABLE IF NOT EXISTS {OUTBOX} (
    id bigserial PRIMARY KEY,
    tbl text NOT NULL,
    pk text NOT NULL,
    op "char" NOT NULL,
    fields text[],
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
)
"""


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass
class TableCapture:
    """What one table's trigger records: its own rows (a layer table) and the rows its keys name (m2m)."""

    table: str
    #: (column, the table whose primary key it holds); a layer table lists (its primary key, itself)
    keys: list[tuple[str, str]] = field(default_factory=list)
    #: columns compared on UPDATE (a layer table's concrete columns); none for a plain m2m table
    compared: list[str] = field(default_factory=list)
    #: whether a notification carries its outbox row (``notifies_rows``) or the table's name
    detailed: bool = True

    @property
    def function(self) -> str:
        name = FUNCTION_PREFIX + self.table
        if len(name) <= 63:
            return name
        digest = hashlib.sha1(self.table.encode()).hexdigest()[:8]
        return f"{FUNCTION_PREFIX}{self.table[: 63 - len(FUNCTION_PREFIX) - 9]}_{digest}"

    def body(self) -> str:
        lines = ["DECLARE", "    changed text[];"]
        if self.detailed:
            lines += ["    written bigint;", "    written_at double precision;", "    payload text;"]
            lines += ["    detailed integer;"]
        lines.append("BEGIN")
        if self.compared:
            cases = ",\n            ".join(
                f"CASE WHEN NEW.{_ident(c)} IS DISTINCT FROM OLD.{_ident(c)} THEN {_literal(c)} END"
                for c in self.compared
            )
            lines += [
                "    IF TG_OP = 'UPDATE' THEN",
                f"        changed := array_remove(ARRAY[\n            {cases}\n        ], NULL);",
                "        IF cardinality(changed) = 0 THEN RETURN NULL; END IF;",
                "    END IF;",
            ]
        if self.detailed:
            counted = f"current_setting({_literal(DETAILED)}, true)"
            lines.append(f"    detailed := coalesce(nullif({counted}, ''), '0')::integer;")
        record = _record_detailed if self.detailed else _record
        for column, target in self.keys:
            new, old = f"NEW.{_ident(column)}", f"OLD.{_ident(column)}"
            own = bool(self.compared) and target == self.table  # the layer table's own row
            lines += [
                f"    IF TG_OP <> 'DELETE' AND {new} IS NOT NULL THEN",
                *(_record_detailed(target, new, carried=own) if self.detailed else record(target, new)),
                "    END IF;",
            ]
            lines += [
                f"    IF TG_OP <> 'INSERT' AND {old} IS NOT NULL",
                f"            AND (TG_OP = 'DELETE' OR {old} IS DISTINCT FROM {new}) THEN",
                *record(target, old),
                "    END IF;",
            ]
        if not self.detailed:
            # One notification per table of the rows written, and PostgreSQL sends it once per transaction.
            for target in sorted({target for _column, target in self.keys}):
                lines.append(f"    PERFORM pg_notify({_literal(table_channel(target))}, {_literal(target)});")
        lines += ["    RETURN NULL;", "END"]
        return "\n".join(lines)


def _insert(target: str, key: str) -> list[str]:
    """The INSERT of one outbox row for ``key`` of table ``target``, without its terminator."""
    return [
        f"        INSERT INTO {OUTBOX} (tbl, pk, op, fields)",
        f"            VALUES ({_literal(target)}, {key}::text, left(TG_OP, 1), changed)",
    ]


def _record(target: str, key: str) -> list[str]:
    """The statement writing one outbox row for ``key`` of table ``target``."""
    *head, last = _insert(target, key)
    return [*head, last + ";"]


def _record_detailed(target: str, key: str, carried: bool = False) -> list[str]:
    """The statements writing one outbox row for ``key`` of table ``target`` and notifying its channel:
    with the row itself as payload for the first ``DETAILED_ROWS`` rows of a transaction, with the table's
    name (one notification per transaction) after them or when the row would not fit. ``carried``: an
    UPDATE's payload carries the new row's columns as well, while they fit (``carried_rows``)."""
    channel, name = _literal(table_channel(target)), _literal(target)
    row = f"json_build_array(written, {name}, {key}::text, changed, written_at"
    lines = [
        *_insert(target, key),
        "            RETURNING id, extract(epoch FROM created_at) INTO written, written_at;",
        f"        payload := {name};",
        f"        IF detailed < {DETAILED_ROWS} THEN",
    ]
    if carried:
        lines += [
            "            IF TG_OP = 'UPDATE' THEN",
            f"                payload := {row}, row_to_json(NEW))::text;",
            "            END IF;",
            f"            IF TG_OP <> 'UPDATE' OR octet_length(payload) > {MAX_PAYLOAD} THEN",
            f"                payload := {row})::text;",
            "            END IF;",
        ]
    else:
        lines.append(f"            payload := {row})::text;")
    return [
        *lines,
        f"            IF octet_length(payload) > {MAX_PAYLOAD} THEN",
        f"                payload := {name};",
        "            ELSE",
        "                detailed := detailed + 1;",
        f"                PERFORM set_config({_literal(DETAILED)}, detailed::text, true);",
        "            END IF;",
        "        END IF;",
        f"        PERFORM pg_notify({channel}, payload);",
    ]


def table_channel(table: str) -> str:
    """The notification channel of a table's changes (a name PostgreSQL keeps whole: 63 bytes at most)."""
    name = f"{CHANNEL}_{table}"
    if len(name.encode()) <= 63:
        return name
    return f"{CHANNEL}_{hashlib.sha1(table.encode()).hexdigest()[:16]}"


@dataclass(frozen=True)
class CaptureStatus:
    """What is installed against what the channels need (tables by name)."""

    outbox: bool
    missing: tuple[str, ...]
    stale: tuple[str, ...]
    extra: tuple[str, ...]

    @property
    def in_step(self) -> bool:
        return self.outbox and not self.missing and not self.stale and not self.extra


def _concrete(model: type[models.Model]) -> type[models.Model]:
    return model._meta.concrete_model or model


def captured_models() -> set[type[models.Model]]:
    from ..registry import registry

    return {_concrete(model) for model in registry.by_model}


def notifies_rows() -> bool:
    """Whether notifications carry their outbox rows: with the embedded backends, whose propagator uses
    them to skip the claim. With the shared ones every process is notified and one claim must elect the
    process that propagates a row, so a notification carries the table's name alone, and a write pays
    for nothing it does not use."""
    from ..conf import rx_settings

    settings = rx_settings()
    return not settings.redis_url and not settings.mongo_url


def wanted_triggers() -> dict[str, TableCapture]:
    """Per table, what its trigger records: layer tables and the m2m tables between layer models."""
    shown = captured_models()
    detailed = notifies_rows()
    wanted: dict[str, TableCapture] = {}

    def want(table: str, column: str, target: str) -> TableCapture:
        capture = wanted.setdefault(table, TableCapture(table, detailed=detailed))
        if (column, target) not in capture.keys:
            capture.keys.append((column, target))
        return capture

    for model in sorted(shown, key=lambda m: m._meta.db_table):
        pk = model._meta.pk
        assert pk is not None
        table = model._meta.db_table
        want(table, str(pk.column), table).compared = [str(f.column) for f in model._meta.concrete_fields]
    for model in sorted(apps.get_models(), key=lambda m: m._meta.label):
        for m2m in model._meta.local_many_to_many:
            through = m2m.remote_field.through
            target = m2m.remote_field.model
            if through is None or isinstance(through, str) or isinstance(target, str):
                continue
            source, other = _concrete(model), _concrete(target)
            table = through._meta.db_table
            if source in shown:
                want(table, m2m.m2m_column_name(), source._meta.db_table)
            if other in shown:
                want(table, m2m.m2m_reverse_name(), other._meta.db_table)
    return dict(sorted(wanted.items()))


def _installed(cursor: object) -> dict[str, tuple[str, str]]:
    """Per table holding a capture trigger: its function's name and source."""
    cursor.execute(  # type: ignore[attr-defined]
        "SELECT c.relname, p.proname, p.prosrc FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_proc p ON p.oid = t.tgfoid "
        "WHERE t.tgname = %s AND n.nspname = current_schema()",
        [TRIGGER],
    )
    return {str(table): (str(name), str(source)) for table, name, source in cursor.fetchall()}  # type: ignore[attr-defined]


def _orphan_functions(cursor: object) -> list[str]:
    cursor.execute(  # type: ignore[attr-defined]
        "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = current_schema() AND p.proname LIKE %s "
        "AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgfoid = p.oid)",
        [FUNCTION_PREFIX.replace("_", "\\_") + "%"],
    )
    return [str(row[0]) for row in cursor.fetchall()]  # type: ignore[attr-defined]


def _outbox_exists(cursor: object) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [OUTBOX])  # type: ignore[attr-defined]
    return bool(cursor.fetchone()[0])  # type: ignore[attr-defined]


def _wanted_existing(using: str) -> dict[str, TableCapture]:
    existing = set(connections[using].introspection.table_names())
    return {table: capture for table, capture in wanted_triggers().items() if table in existing}


def status(using: str = DEFAULT_DB_ALIAS) -> CaptureStatus:
    wanted = _wanted_existing(using)
    with connections[using].cursor() as cursor:
        installed = _installed(cursor)
        outbox = _outbox_exists(cursor)
    return CaptureStatus(
        outbox=outbox,
        missing=tuple(t for t in wanted if t not in installed),
        stale=tuple(
            t
            for t, capture in wanted.items()
            if t in installed and installed[t] != (capture.function, capture.body())
        ),
        extra=tuple(sorted(set(installed) - set(wanted))),
    )


def sync(using: str = DEFAULT_DB_ALIAS) -> CaptureStatus:
    """Install the outbox, add missing triggers, replace changed ones, drop unneeded ones (and their
    functions). Returns the status found before; nothing is executed when everything is in step."""
    before = status(using)
    if before.in_step:
        return before
    wanted = _wanted_existing(using)
    quote = connections[using].ops.quote_name
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        if not before.outbox:
            cursor.execute(OUTBOX_DDL)
        for table in (*before.stale, *before.extra):
            cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {quote(table)}")
        for table in (*before.missing, *before.stale):
            capture = wanted[table]
            cursor.execute(
                f"CREATE OR REPLACE FUNCTION {quote(capture.function)}() RETURNS trigger "
                f"LANGUAGE plpgsql AS $rxgraphql${capture.body()}$rxgraphql$"
            )
            cursor.execute(
                f"CREATE TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON {quote(table)} "
                f"FOR EACH ROW EXECUTE FUNCTION {quote(capture.function)}()"
            )
        for function in _orphan_functions(cursor):
            cursor.execute(f"DROP FUNCTION IF EXISTS {quote(function)}()")
    return before


def remove(using: str = DEFAULT_DB_ALIAS) -> None:
    """Drop every capture trigger, their functions and the outbox (switching back to signals)."""
    quote = connections[using].ops.quote_name
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        for table in _installed(cursor):
            cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {quote(table)}")
        for function in _orphan_functions(cursor):
            cursor.execute(f"DROP FUNCTION IF EXISTS {quote(function)}()")
        cursor.execute(f"DROP TABLE IF EXISTS {OUTBOX}")
