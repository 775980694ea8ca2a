"""INSERT many rows of one model in one statement, the rows as one JSON parameter.

What ``bulk_create`` does for a batch, without preparing and quoting each value in
Python: on PostgreSQL the rows travel as one JSON text read by ``json_to_recordset`` (as
ingest's writer does, ``zalohub.events.ingestion.pg_writer``), so a batch of rows of some
twenty columns costs one string to quote. The caller gives the same columns for every
row; every other column gets its model default, written into the SQL (a callable
default, such as a time, must be given). Other databases: ``bulk_create``.
"""

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from django.db import connection, models

_statements: dict[tuple[str, type[models.Model], tuple[str, ...]], str] = {}


def _literal(field: models.Field) -> str:
    value = field.get_db_prep_save(field.get_default(), connection)
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):  # %% since the statement runs with a parameter
        return "'" + value.replace("'", "''").replace("%", "%%") + "'"
    raise RuntimeError(f"{field}: give this column, its default is not a constant")


def _statement(model: type[models.Model], columns: tuple[str, ...]) -> str:
    key = (connection.vendor, model, columns)
    sql = _statements.get(key)
    if sql is not None:
        return sql
    qn = connection.ops.quote_name
    fields = {f.column: f for f in model._meta.concrete_fields if not f.primary_key}
    rest = [f for column, f in fields.items() if column not in columns]
    for field in rest:
        if field.has_default() and callable(field.default):
            raise RuntimeError(f"{field}: give this column (its default is computed)")
    definition = ", ".join(f"{qn(c)} {fields[c].db_type(connection)}" for c in columns)
    aliases = ", ".join(qn(c) for c in (*columns, "ordinal"))
    selected = [f"r.{qn(c)}" for c in columns] + [_literal(f) for f in rest]
    inserted = ", ".join(qn(c) for c in (*columns, *(str(f.column) for f in rest)))
    sql = _statements[key] = (
        f"INSERT INTO {qn(model._meta.db_table)} ({inserted}) "  # noqa: S608  (the model's names)
        f"SELECT {', '.join(selected)} "
        f"FROM ROWS FROM (json_to_recordset(%s::json) AS ({definition})) "
        f"WITH ORDINALITY AS r({aliases}) ORDER BY r.{qn('ordinal')} "
        f"RETURNING {qn(model._meta.pk.column or 'id')}"
    )
    return sql


def _iso(value: Any) -> str:
    if isinstance(value, date):  # and datetime: aware (USE_TZ), PostgreSQL reads the offset
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def insert_rows(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[int]:
    """INSERT ``rows`` (values in ``columns``' order: plain values, JSON fields as Python
    lists and dicts, dates, aware datetimes) and return their primary keys, in order."""
    if not rows:
        return []
    names = tuple(columns)
    if connection.vendor != "postgresql":
        objs = model._default_manager.bulk_create(
            [
                model(**{_attname(model, c): v for c, v in zip(names, row, strict=True)})
                for row in rows
            ]
        )
        return [obj.pk for obj in objs]
    data = json.dumps(
        [dict(zip(names, row, strict=True)) for row in rows],
        ensure_ascii=False,
        separators=(",", ":"),
        default=_iso,
    )
    with connection.cursor() as cursor:
        cursor.execute(_statement(model, names), [data])
        return [pk for (pk,) in cursor.fetchall()]


def _attname(model: type[models.Model], column: str) -> str:
    for field in model._meta.concrete_fields:
        if field.column == column:
            return field.attname
    raise LookupError(f"{model.__name__} has no column {column}")
