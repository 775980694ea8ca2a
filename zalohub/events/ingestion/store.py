"""The durable hand-off of a webhook: one lean INSERT, shared by concurrent requests.

Ingest answers 200 only once its event's row is committed (``synchronous_commit`` stays
on). Three things keep that cheap:

- **A lean INSERT.** The statement is built once per process and database vendor from
  ``ZaloEvent``'s fields: the columns ingest fills are parameters, built directly from
  what ingest knows (no model instance, no per-field preparation); every other column
  gets its model default, written into the SQL. ``INSERT ... ON CONFLICT (app_id,
  dedupe_key) DO NOTHING RETURNING`` makes a redelivery a no-op that says so.
- **Group commit.** The requests of one process that need their INSERT at the same time
  share one multi-row statement and so one commit. There is no extra thread: a request
  that finds nobody inserting becomes the *leader*, takes every row
  queued so far (up to ``BATCH_CAP``), inserts them in autocommit (on PostgreSQL through
  ``ingest_pg``'s connection and prepared statement, elsewhere on its own connection),
  publishes each row's outcome and wakes the others; a request that arrives meanwhile
  queues its row and waits, and if the leader's batch did not include it, it leads the
  next one. A lone request therefore inserts alone (after the linger below); batches form
  from requests that reach this point while another batch lingers or is committed. Under
  ASGI, Django runs sync views on one thread per process: every batch is of one. The
  mechanism is ``zalohub.core.groupcommit`` (the API's sends use it too).
- **A short linger.** A request that finds nobody inserting waits
  ``WEBHOOK_BATCH_LINGER_SECONDS`` (0.3 ms by default; 0 turns it off) before it takes
  the rows queued meanwhile, as PostgreSQL's own ``commit_delay`` does for WAL flushes:
  under load more requests share each commit, which costs the server more CPU than the
  rows themselves do (``bench/README.md``); a lone request is answered that much later.

Within a batch rows are inserted in dedupe-key order (two processes' batches then never
wait on each other's keys in opposite orders, which could deadlock on PostgreSQL), so
their ids follow that order; the requests of one batch were in flight together, and each
row keeps its own ``received_at``. Two requests with the same key in one batch: the first
to arrive is new, the other a duplicate. If the batch's statement fails (a cached app or
OA deleted meanwhile, the database gone...), nothing of it was committed and every
request of the batch inserts its own row alone, with ingest's usual error handling: one
bad row never fails another request. Inside a caller's transaction (tests, management
code) a row is inserted alone in a savepoint, as part of that transaction.
"""

import functools
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from zalohub.core.groupcommit import Failed, GroupCommit, in_transaction
from zalohub.events import wake
from zalohub.events.models import ZaloEvent

if TYPE_CHECKING:
    from zalohub.events.ingestion.pg_writer import PgWriter

logger = logging.getLogger(__name__)

BATCH_CAP = 256  # rows per statement (14 parameters a row; SQLite allows 32,766)


class EventRow(NamedTuple):
    """The columns ingest fills; every other column of ZaloEvent gets its default."""

    app_id: int
    oa_id: int | None
    event_name: str
    dedupe_key: str
    raw_body: str
    headers: dict[str, str]
    signature_variant: str
    num_retry: int
    event_time: datetime | None
    zalo_user_id: str
    conversation_key: str
    received_at: datetime
    # The webhook request's id (zalohub.core.requestid): the worker logs under it too.
    request_id: str = ""


# Columns filled from an EventRow, in the order _Statement.params() emits them. Every
# default of ``timezone.now`` (received_at, next_attempt_at) is the row's received_at.
_FILLED = (*EventRow._fields, "next_attempt_at")


def _literal(value: Any) -> str | None:
    """A model default as SQL text, or None to pass it as a parameter instead. The
    values come from ZaloEvent's field defaults, never from a request."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):  # %% since the statement always runs with parameters
        return "'" + value.replace("'", "''").replace("%", "%%") + "'"
    return None


def _fresh_default(field: Field) -> Any:
    return field.get_db_prep_save(field.get_default(), connection)


def _same(value: Any) -> Any:
    return value


class Columns:
    """What an INSERT of ingest's rows writes, worked out once per process and database
    vendor from ZaloEvent's fields: the columns filled from each row (``names``) and every
    other column's model default, as SQL text where it can be (``literals``) or as one
    more value per row (``extra``, whose columns end ``names``)."""

    def __init__(self) -> None:
        fields: dict[str, Field] = {
            f.column: f for f in ZaloEvent._meta.concrete_fields if f.column and not f.primary_key
        }
        missing = [c for c in _FILLED if c not in fields]
        if missing:
            raise RuntimeError(f"ZaloEvent has no column(s) {missing}: update ingest_store")
        self.fields = fields
        self.names: list[str] = list(_FILLED)  # one value per row each
        self.literals: list[tuple[str, str]] = []  # (column, SQL text of its default)
        # Defaults passed as values, after _FILLED's: (column, its value for a new row).
        self.extra: list[tuple[str, Callable[[], Any]]] = []
        for column, field in fields.items():
            if column in _FILLED:
                continue
            if field.has_default() and callable(field.default):
                if field.default is timezone.now:
                    raise RuntimeError(f"ZaloEvent.{field.name}: add it to ingest_store._FILLED")
                # Another callable default: evaluated for each row (none today).
                self.extra.append((column, functools.partial(_fresh_default, field)))
                self.names.append(column)
                continue
            value = field.get_db_prep_save(field.get_default(), connection)
            literal = _literal(value)
            if literal is None:
                self.extra.append((column, functools.partial(_same, value)))
                self.names.append(column)
            else:
                self.literals.append((column, literal))
        # Every column the INSERT writes: the per-row values', then the literal defaults'.
        self.inserted = [*self.names, *(column for column, _ in self.literals)]
        qn = connection.ops.quote_name
        self.table = qn(ZaloEvent._meta.db_table)
        self.conflict = f"ON CONFLICT ({qn('app_id')}, {qn('dedupe_key')}) DO NOTHING"
        self.returning = f"RETURNING {qn('id')}, {qn('app_id')}, {qn('dedupe_key')}"


class _Statement:
    """The multi-row ``INSERT ... VALUES`` run through Django's connection: one row's
    parameters after another, the other columns' defaults written into the SQL."""

    def __init__(self) -> None:
        self.columns = columns = Columns()
        placeholders = ["%s"] * len(columns.names)
        if connection.vendor == "postgresql":
            placeholders[_FILLED.index("headers")] = "%s::jsonb"  # JSON text, as JSONField's
        placeholders += [literal for _, literal in columns.literals]
        qn = connection.ops.quote_name
        self.row_sql = f"({', '.join(placeholders)})"
        self.head = f"INSERT INTO {columns.table} ({', '.join(map(qn, columns.inserted))}) VALUES "  # noqa: S608
        self.adapt_datetime = connection.ops.adapt_datetimefield_value
        self.tail = f" {columns.conflict} {columns.returning}"
        self._sql: dict[int, str] = {}

    def sql(self, rows: int) -> str:
        sql = self._sql.get(rows)
        if sql is None:
            sql = self._sql[rows] = self.head + ", ".join([self.row_sql] * rows) + self.tail
        return sql

    def params(self, row: EventRow) -> list[Any]:
        adapt = self.adapt_datetime
        now = adapt(row.received_at)
        values = [
            row.app_id,
            row.oa_id,
            row.event_name,
            row.dedupe_key,
            row.raw_body,
            json.dumps(row.headers),  # as Django's JSONField encodes it (no custom encoder)
            row.signature_variant,
            row.num_retry,
            adapt(row.event_time) if row.event_time is not None else None,
            row.zalo_user_id,
            row.conversation_key,
            now,
            row.request_id,
            now,
        ]
        for _, extra in self.columns.extra:
            values.append(extra())
        return values


_statements: dict[str, _Statement] = {}


def _statement() -> _Statement:
    statement = _statements.get(connection.vendor)
    if statement is None:
        statement = _statements[connection.vendor] = _Statement()
    return statement


def _execute(rows: list[EventRow]) -> dict[tuple[int, str], int]:
    """INSERT the rows (distinct keys) in one statement: {(app pk, dedupe key): id} of
    the rows that were new."""
    statement = _statement()
    params: list[Any] = []
    for row in rows:
        params += statement.params(row)
    with connection.cursor() as cursor:
        cursor.execute(statement.sql(len(rows)), params)
        return {(app, key): pk for pk, app, key in cursor.fetchall()}


def insert_alone(row: EventRow) -> int | None:
    """INSERT one row: its id, or None if it was a redelivery. In autocommit this is the
    whole durable hand-off in one round trip; in a transaction it keeps a savepoint (a
    failed statement would otherwise poison the caller's transaction)."""
    if connection.in_atomic_block:
        with transaction.atomic():
            return _execute([row]).get((row.app_id, row.dedupe_key))
    return _execute([row]).get((row.app_id, row.dedupe_key))


class GroupCommitter(GroupCommit[EventRow, int | None]):
    """The webhook rows' group commit (``core.groupcommit``: see the module doc); on
    PostgreSQL a batch is written through ``ingest_pg``'s connection."""

    name = "webhook rows"

    def __init__(self, cap: int = BATCH_CAP) -> None:
        super().__init__(cap)
        self._pg: PgWriter | None = None  # the batches' writer on PostgreSQL

    def insert(self, row: EventRow) -> int | None:
        """The row's id once committed, or None if its key was already stored."""
        outcome = self.run(row)
        if isinstance(outcome, Failed):
            # The batch's statement failed and committed nothing: this row on its own,
            # so that only a row that is itself bad fails its request.
            pk = insert_alone(row)
            if pk is not None:
                wake.work_committed()
            return pk
        return outcome

    def linger_seconds(self) -> float:
        return settings.WEBHOOK_BATCH_LINGER_SECONDS

    def write(self, rows: list[EventRow]) -> list[int | None]:
        first: dict[tuple[int, str], EventRow] = {}
        for row in rows:
            first.setdefault((row.app_id, row.dedupe_key), row)
        ids = self._write([first[key] for key in sorted(first)])
        if ids:  # committed: a waiting worker claims them now
            wake.work_committed()
        # A second request with the same key in this batch is a redelivery.
        return [
            ids.get(key) if first[key] is row else None
            for row in rows
            for key in [(row.app_id, row.dedupe_key)]
        ]

    def _write(self, rows: list[EventRow]) -> dict[tuple[int, str], int]:
        if connection.vendor != "postgresql":
            return _execute(rows)
        if self._pg is None:
            from zalohub.events.ingestion.pg_writer import PgWriter  # it builds on this module

            self._pg = PgWriter()
        return self._pg.execute(rows)

    def close(self) -> None:
        """Close the connection this process's batches are written on, if it has one (the
        next batch opens it again): before the database it points at goes away."""
        if self._pg is not None:
            self._pg.close()


committer = GroupCommitter()


def store(row: EventRow) -> int | None:
    """The durable hand-off: the new event's id, or None if it was already stored.

    In autocommit the row joins the process's group commit; inside a transaction it is
    inserted alone as part of it."""
    if in_transaction():
        pk = insert_alone(row)
        if pk is not None:
            transaction.on_commit(wake.work_committed)
        return pk
    return committer.insert(row)
