"""A PostgreSQL connection of one process's own, held for good, for a group commit's
statements (``zalohub.core.groupcommit``: one leader writes at a time in a process).

Django hands each request a connection from the process's pool and takes it back when
the request ends, and binds parameters on the client, so a statement is parsed and
planned again each time. A batch's statement that is the same text every time (its rows
as one JSON parameter) costs less on a connection held for good, prepared once
(``Connection.execute(..., prepare=True)``, psycopg's documented API), unless
``ZALOHUB_WEBHOOK_PREPARED_INSERT`` is off, as it must be behind a pooler in transaction
mode that cannot keep prepared statements. Each statement runs in autocommit. The
connection is opened by the first statement, dropped after any error (the next opens a
fresh one) and never used across a fork. Ingest's webhook rows
(``events.ingestion.pg_writer``) and the API's sends (``api.accept``) each hold one.
"""

import os
import threading
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection
from psycopg import sql


class HeldConnection:
    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._conn: psycopg.Connection | None = None
        self._pid = 0

    def execute(self, query: str | bytes, params: list[Any]) -> list[tuple[Any, ...]]:
        """Run ``query`` in autocommit, prepared (unless turned off): its rows."""
        conn = self._open()
        try:
            # prepare=True: psycopg prepares it on this connection at once and reuses it;
            # False leaves nothing prepared (a pooler in transaction mode).
            return conn.execute(query, params, prepare=settings.WEBHOOK_PREPARED_INSERT).fetchall()
        except BaseException:
            self.close()  # broken, or in an unknown state: the next statement starts afresh
            raise

    def _open(self) -> psycopg.Connection:
        """The connection, opened now if there is none."""
        with self._mutex:
            if self._conn is not None and self._pid != os.getpid():
                self._conn = None  # inherited across a fork: the parent's, never ours to use
            if self._conn is None or self._conn.closed:
                self._conn = self._connect()
                self._pid = os.getpid()
            return self._conn

    @staticmethod
    def _connect() -> psycopg.Connection:
        """A connection set up as Django sets up its own: same parameters, role and time
        zone (a statement reads neither, but a trigger or default might)."""
        params = connection.get_connection_params()
        for django_only in ("cursor_factory", "context", "prepare_threshold"):
            params.pop(django_only, None)
        conn = psycopg.connect(**params, autocommit=True)
        try:
            if role := connection.settings_dict["OPTIONS"].get("assume_role"):
                conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
            if conn.info.parameter_status("TimeZone") != connection.timezone_name:
                conn.execute("SELECT set_config('TimeZone', %s, false)", [connection.timezone_name])
        except BaseException:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        """Close it, if it is open (the next statement opens it again): before the
        database it points at goes away."""
        with self._mutex:
            conn, self._conn = self._conn, None
        if conn is not None and self._pid == os.getpid():
            conn.close()
