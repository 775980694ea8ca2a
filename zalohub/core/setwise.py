"""Set-wise writes that Django's ORM has no single cheap call for."""

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connection, models


def _column(model: type[models.Model], name: str) -> tuple[models.Field, str]:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise ValueError(f"{model.__name__}.{name} is not a column")
    return field, field.column


def update_rows(
    model: type[models.Model],
    changes: Mapping[Any, Mapping[str, Any]],
    *,
    only_if: Mapping[Any, tuple[str, Sequence[Any]]] | None = None,
) -> int:
    """Write different values to different rows in one UPDATE.

    ``changes`` maps a primary key to the fields that row gets. Each field becomes a
    CASE over the rows that change it, every other row keeping its value, so a row is
    only ever written the fields it was given (a concurrent change to another field of
    it survives). ``only_if`` maps a primary key to (field, allowed current values): the
    row changes only while that field holds one of them, the conditional UPDATE of one
    row for many rows at once. Returns the number of rows matched by primary key.

    Written as SQL rather than ``bulk_update``/``Case(When(...))``: building those
    expressions costs more than the UPDATE itself for a few hundred rows.
    """
    if not changes:
        return 0
    only_if = only_if or {}
    meta = model._meta
    quote = connection.ops.quote_name
    cast = connection.features.requires_casted_case_in_updates

    def value(field: models.Field, raw: Any) -> tuple[str, Any]:
        prepared = field.get_db_prep_save(raw, connection)
        return (f"CAST(%s AS {field.db_type(connection)})" if cast else "%s"), prepared

    pk_column = quote(_column(model, meta.pk.name)[1])
    names = sorted({name for values in changes.values() for name in values})
    sets: list[str] = []
    params: list[Any] = []
    for name in names:
        field, column = _column(model, name)
        column = quote(column)
        whens: list[str] = []
        for pk, values in changes.items():
            if name not in values:
                continue
            condition, condition_params = f"{pk_column} = %s", [pk]
            if pk in only_if:
                guard_name, allowed = only_if[pk]
                guard, guard_column = _column(model, guard_name)
                holes = ", ".join(["%s"] * len(allowed))
                condition += f" AND {quote(guard_column)} IN ({holes})"
                condition_params += [guard.get_db_prep_value(a, connection) for a in allowed]
            placeholder, prepared = value(field, values[name])
            whens.append(f"WHEN {condition} THEN {placeholder}")
            params += [*condition_params, prepared]
        sets.append(f"{column} = CASE {' '.join(whens)} ELSE {column} END")
    pks = list(changes)
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {', '.join(sets)} "  # noqa: S608
        f"WHERE {pk_column} IN ({', '.join(['%s'] * len(pks))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *pks])
        return cursor.rowcount
