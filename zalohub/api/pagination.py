"""Cursor pagination for every list: keyset on (a time or id, id), newest first.

The cursor is opaque to clients (base64 of the last row's sort values): a page never
skips nor repeats a row when rows are added meanwhile, unlike an offset.
"""

import base64
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db.models import Model, Q, QuerySet
from django.utils.translation import gettext as _

from zalohub.api.problems import ApiProblem

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


def _bad_cursor() -> ApiProblem:
    return ApiProblem(400, "invalid_cursor", _("The cursor is not one this API gave."))


def _encode(values: list[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, fields: tuple[str, ...]) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        raise _bad_cursor() from None
    if not isinstance(values, list) or len(values) != len(fields):
        raise _bad_cursor()
    out: list[Any] = []
    for field, value in zip(fields, values, strict=True):
        if field == "id":
            if not isinstance(value, int) or isinstance(value, bool):
                raise _bad_cursor()
        else:
            try:
                value = datetime.fromisoformat(str(value))
            except ValueError:
                raise _bad_cursor() from None
        out.append(value)
    return out


def page[M: Model](
    qs: QuerySet[M],
    *,
    cursor: str | None,
    limit: int,
    order: tuple[str, ...] = ("id",),
    item: Callable[[M], Any] = lambda row: row,
) -> dict[str, Any]:
    """One page of ``qs`` by ``order`` (descending; "id" last): {items, next_cursor}."""
    limit = max(1, min(limit, MAX_LIMIT))
    if cursor:
        values = _decode(cursor, order)
        if len(order) == 1:
            qs = qs.filter(id__lt=values[0])
        else:
            first = order[0]
            qs = qs.filter(
                Q(**{f"{first}__lt": values[0]}) | Q(**{first: values[0], "id__lt": values[1]})
            )
    rows = list(qs.order_by(*[f"-{f}" for f in order])[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode([getattr(rows[-1], f) for f in order]) if more and rows else None
    return {"items": [item(r) for r in rows], "next_cursor": next_cursor}
