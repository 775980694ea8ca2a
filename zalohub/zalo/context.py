"""What caused a Zalo call (the OA, the event, the template), carried without arguments.

A caller opens ``call_context(oa_id=..., ref_type=..., ref_id=...)`` around the work;
the transport hands the merged values to the recorder with every call it makes.
"""

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

_current: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "zalo_call_context", default=None
)


@contextlib.contextmanager
def call_context(**values: Any) -> Iterator[dict[str, Any]]:
    merged = {**(_current.get() or {}), **{k: v for k, v in values.items() if v is not None}}
    token = _current.set(merged)
    try:
        yield merged
    finally:
        _current.reset(token)


def current_context() -> dict[str, Any]:
    return dict(_current.get() or {})
