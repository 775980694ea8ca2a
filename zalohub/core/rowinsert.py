"""INSERT many rows of one model in one statement, the rows as one JSON parameter.

What ``bulk_create`` does for a batch, without preparing and quoting each value in
Python: on PostgreSQL the rows travel as one JSON text read by ``json_to_recordset`` (as
ingest's writer does, ``zalohub.events.ingestion.pg_writer``), so a batch of rows of some
twenty columns costs one string to quote. The caller gives the same columns for every
row; every other column gets its model default, written into the SQL (a callable
default, such as a time, must be given). Other databases: ``bulk_create``.
``rows_select`` and ``rows_params`` give the same rows' part to an INSERT of the
caller's (an upsert, an ``ON CONFLICT DO NOTHING``): one SQL text for any number of rows.
"""

import functools
import json
from collections.abc import Sequence
from datetime import date, datetime
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


def _source(
    model: type[models.Model], columns: tuple[str, ...], *, leave: str = ""
) -> tuple[list[str], list[str], str]:
    """The parts of an INSERT of ``columns`` read from one JSON parameter: the columns
    inserted (quoted), what the SELECT gives for each (``r``'s column, else the model's
    default, written into the SQL), and the rows' source, ``r`` with its ``ordinal``.
    ``leave``: a column given neither by the rows nor by its default (the caller adds
    it)."""
    qn = connection.ops.quote_name
    fields = {f.column: f for f in model._meta.concrete_fields if not f.primary_key}
    rest = [f for column, f in fields.items() if column not in (*columns, leave)]
    for field in rest:
        if field.has_default() and callable(field.default):
            raise RuntimeError(f"{field}: give this column (its default is computed)")
    selected = [f"r.{qn(c)}" for c in columns] + [_literal(f) for f in rest]
    inserted = [qn(c) for c in (*columns, *(str(f.column) for f in rest))]
    return inserted, selected, recordset(model, columns)


def recordset(
    model: type[models.Model], columns: Sequence[str], extra: Sequence[tuple[str, str]] = ()
) -> str:
    """On PostgreSQL, the rows of ``model``'s ``columns`` read from one JSON parameter
    (``_json``; ``rows_params`` gives it), typed as the columns are: ``r``, numbered in
    ``ordinal`` from 1. ``extra``: (name, SQL type) of values the rows carry after the
    columns, for the statement's own use (they are not inserted)."""
    qn = connection.ops.quote_name
    fields = {f.column: f for f in model._meta.concrete_fields}
    typed = [(c, fields[c].db_type(connection)) for c in columns] + list(extra)
    definition = ", ".join(f"{qn(c)} {kind}" for c, kind in typed)
    aliases = ", ".join(qn(c) for c in (*(c for c, _kind in typed), "ordinal"))
    return (
        f"ROWS FROM (json_to_recordset(%s::json) AS ({definition})) WITH ORDINALITY AS r({aliases})"
    )


@functools.lru_cache(maxsize=256)
def insert_from(model: type[models.Model], columns: Sequence[str]) -> tuple[list[str], list[str]]:
    """For an INSERT of the caller's that gives ``columns`` from a source named ``r``:
    the columns inserted (quoted) and what its SELECT gives for each (``r``'s column,
    else the model's default, written into the SQL)."""
    inserted, selected, _rows = _source(model, tuple(columns))
    return inserted, selected


@functools.lru_cache(maxsize=256)
def _rows_select(
    vendor: str, model: type[models.Model], columns: tuple[str, ...], rows: int
) -> str:
    qn = connection.ops.quote_name
    if vendor == "postgresql":
        selected = ", ".join(f"r.{qn(c)}" for c in columns)
        source = recordset(model, columns)
        return f"SELECT {selected} FROM {source} ORDER BY r.{qn('ordinal')}"  # noqa: S608
    return "VALUES " + ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * rows)


def rows_select(model: type[models.Model], columns: Sequence[str], rows: int) -> str:
    """What an INSERT of ``rows`` rows of ``model``'s ``columns`` takes them from, for a
    statement of the caller's (``INSERT INTO t (columns) <this> ON CONFLICT ...``) run
    with ``rows_params``: on PostgreSQL one JSON parameter (``recordset``: the same SQL
    text for any number of rows, one value to quote), elsewhere a VALUES row each."""
    postgresql = connection.vendor == "postgresql"
    return _rows_select(connection.vendor, model, tuple(columns), 0 if postgresql else rows)


def rows_params(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[Any]:
    """The parameters of ``rows_select``'s ``rows`` (values in ``columns``' order: plain
    values, JSON fields as Python lists and dicts (PostgreSQL), dates, aware datetimes)."""
    if connection.vendor == "postgresql":
        return [_json(columns, rows)]
    ops = connection.ops
    return [
        ops.adapt_datetimefield_value(v)
        if isinstance(v, datetime)
        else ops.adapt_datefield_value(v)
        if isinstance(v, date)
        else v
        for row in rows
        for v in row
    ]


def _statement(model: type[models.Model], columns: tuple[str, ...]) -> str:
    key = (connection.vendor, model, columns)
    sql = _statements.get(key)
    if sql is not None:
        return sql
    qn = connection.ops.quote_name
    inserted, selected, source = _source(model, columns)
    sql = _statements[key] = (
        f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(inserted)}) "  # noqa: S608  (the model's names)
        f"SELECT {', '.join(selected)} FROM {source} ORDER BY r.{qn('ordinal')} "
        f"RETURNING {qn(model._meta.pk.column or 'id')}"
    )
    return sql


def _linked(
    parent: type[models.Model],
    names: tuple[str, ...],
    child: type[models.Model],
    child_names: tuple[str, ...],
    link: str,
    fill: tuple[str, ...],
) -> str:
    """``insert_linked``'s statement on PostgreSQL: the parents' INSERT in a WITH, their
    ids numbered in the order they were taken, each child joined to its parent by its
    position."""
    qn = connection.ops.quote_name
    pk = qn(parent._meta.pk.column or "id")
    ordinal = qn("ordinal")
    inserted, selected, source = _source(parent, names)
    child_inserted, child_selected, child_source = _source(child, child_names, leave=link)
    for n, column in enumerate(child_names):
        if column in fill:  # no %: the statement runs with parameters
            child_selected[n] = f"replace(r.{qn(column)}, '{{id}}', p.{pk}::text)"
    return (
        f"WITH made AS (INSERT INTO {qn(parent._meta.db_table)} ({', '.join(inserted)}) "  # noqa: S608  (the models' names)
        f"SELECT {', '.join(selected)} FROM {source} ORDER BY r.{ordinal} RETURNING {pk}), "
        f"p AS (SELECT {pk}, row_number() OVER (ORDER BY {pk}) AS {ordinal} FROM made) "
        f"INSERT INTO {qn(child._meta.db_table)} ({', '.join(child_inserted)}, {qn(link)}) "
        f"SELECT {', '.join(child_selected)}, p.{pk} FROM {child_source} "
        f"JOIN p ON p.{ordinal} = r.{ordinal} ORDER BY r.{ordinal} "
        f"RETURNING {qn(link)}, {qn(child._meta.pk.column or 'id')}"
    )


def _iso(value: Any) -> str:
    if isinstance(value, date):  # and datetime: aware (USE_TZ), PostgreSQL reads the offset
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    return json.dumps(
        [dict(zip(names, row, strict=True)) for row in rows],
        ensure_ascii=False,
        separators=(",", ":"),
        default=_iso,
    )


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
    with connection.cursor() as cursor:
        cursor.execute(_statement(model, names), [_json(names, rows)])
        return [pk for (pk,) in cursor.fetchall()]


def insert_linked(
    parent: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    child: type[models.Model],
    child_columns: Sequence[str],
    child_rows: Sequence[Sequence[Any]],
    *,
    link: str,
    fill: Sequence[str] = (),
) -> list[tuple[int, int]]:
    """INSERT ``rows`` of ``parent`` and, for each, the row of ``child`` at the same
    position, pointing at it by the column ``link``; in the child's text columns named
    in ``fill``, ``{id}`` stands for the parent row's id. The (parent id, child id) of
    each pair, in order. On PostgreSQL one statement, so one round trip; elsewhere two
    (``insert_rows``)."""
    if not rows:
        return []
    if connection.vendor != "postgresql":
        ids = insert_rows(parent, columns, rows)
        at = [n for n, c in enumerate(child_columns) if c in fill]
        linked = [list(row) for row in child_rows]
        for row, pk in zip(linked, ids, strict=True):
            for n in at:
                row[n] = row[n].replace("{id}", str(pk))
            row.append(pk)
        return list(zip(ids, insert_rows(child, (*child_columns, link), linked), strict=True))
    names, child_names = tuple(columns), tuple(child_columns)
    key = (connection.vendor, child, (*names, "->", *child_names, link, "fill", *fill))
    sql = _statements.get(key)
    if sql is None:
        sql = _statements[key] = _linked(parent, names, child, child_names, link, tuple(fill))
    with connection.cursor() as cursor:
        cursor.execute(sql, [_json(names, rows), _json(child_names, child_rows)])
        # The parents' ids ascend in the rows' order (taken in the ORDER BY's).
        pairs = sorted(cursor.fetchall())
    if len(pairs) != len(rows):
        raise RuntimeError(f"{len(rows)} rows of {parent.__name__}, {len(pairs)} linked")
    return [(int(pk), int(child_pk)) for pk, child_pk in pairs]


def _attname(model: type[models.Model], column: str) -> str:
    for field in model._meta.concrete_fields:
        if field.column == column:
            return field.attname
    raise LookupError(f"{model.__name__} has no column {column}")
