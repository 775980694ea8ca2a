"""The group commit's writer on PostgreSQL: a connection of its own, one prepared INSERT.

Every batch of webhook rows that a leader commits (``ingest_store.GroupCommitter``) goes
through here when the database is PostgreSQL. Three things make it cheaper than running
the batch through Django's cursor, and each was measured (``bench/README.md``):

- **A connection held for good** (``core.heldconn``). Django hands each request a
  connection from the process's pool and takes it back when the request ends; for
  webhooks that checkout and return cost more Python than the INSERT. Only one leader
  writes at a time in a process, so one connection serves them all: it is opened by the
  first batch, kept open, and dropped after any error (the next batch opens a fresh
  one). Each web process therefore holds one PostgreSQL connection for webhooks beside
  its pool (and one for the API's sends).
- **One statement for any batch size.** The rows travel as one JSON parameter, read by
  ``json_to_recordset``: the SQL text never changes, so PostgreSQL parses and plans it
  once (a prepared statement, unless ``ZALOHUB_WEBHOOK_PREPARED_INSERT`` is off, as it
  must be behind a pooler in transaction mode that cannot keep them), where a multi-row
  ``VALUES`` was new text for each batch size and parsed again for every batch.
- **psycopg's documented API only.** The batch goes through
  ``Connection.execute(..., prepare=True)`` on that connection. An earlier version sent
  it with libpq's own calls (``PGconn.exec_prepared``, no cursor): in
  ``bench/ingest_cpu.py`` (5 rounds, 2026-12-06) that path did not pay (2,310 vs 2,334
  acked/s, 0.839 vs 0.835 ms CPU a request), so it went. The linger (``store.py``)
  still did: 2.4% more acked/s, 3.1% less CPU.

Outside a batch (inside a transaction, or when a batch failed and its rows are retried
one by one) rows still go through Django's connection, with its error handling.
"""

import json
from datetime import datetime
from typing import Any

from django.db import connection

from zalohub.core.heldconn import HeldConnection
from zalohub.events.ingestion.store import Columns, EventRow

# The rows' position in the batch: they are inserted in the order given (ingest_store
# sorts them by key, so that two processes' batches never wait on each other in a cycle).
_ORDINAL = "ordinal"


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()  # always aware (USE_TZ): PostgreSQL reads the offset
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# Non-ASCII text as is (PostgreSQL reads UTF-8), no spaces: less to write and to parse.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_iso).encode


class PgWriter:
    def __init__(self) -> None:
        columns = Columns()
        self._sql = self._build(columns).encode()
        self._extra = columns.extra
        self._held = HeldConnection()

    def execute(self, rows: list[EventRow]) -> dict[tuple[int, str], int]:
        """INSERT the rows (distinct keys) in one statement and commit: {(app pk, dedupe
        key): id} of the rows that were new."""
        extra = self._extra
        records = []
        for row in rows:
            record = row._asdict()  # next_attempt_at is received_at, taken by the SELECT
            for name, value in extra:
                record[name] = value()
            records.append(record)
        answer = self._held.execute(self._sql, [_encode(records)])
        return {(int(app_id), str(key)): int(pk) for pk, app_id, key in answer}

    def close(self) -> None:
        self._held.close()

    @staticmethod
    def _build(columns: Columns) -> str:
        qn = connection.ops.quote_name
        types = {name: columns.fields[name].db_type(connection) for name in columns.names}
        record = [name for name in columns.names if name != "next_attempt_at"]
        definition = ", ".join(f"{qn(name)} {types[name]}" for name in record)
        aliases = ", ".join(map(qn, [*record, _ORDINAL]))
        selected = [
            f"r.{qn('received_at' if name == 'next_attempt_at' else name)}"
            for name in columns.names
        ] + [literal for _, literal in columns.literals]
        return (
            f"INSERT INTO {columns.table} ({', '.join(map(qn, columns.inserted))}) "  # noqa: S608
            f"SELECT {', '.join(selected)} "
            f"FROM ROWS FROM (json_to_recordset(%s::json) AS ({definition})) "
            f"WITH ORDINALITY AS r({aliases}) ORDER BY r.{qn(_ORDINAL)} "
            f"{columns.conflict} {columns.returning}"
        )
