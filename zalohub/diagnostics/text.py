"""Texts that are stored (health snapshots, incidents, self-tests) are stored as their
English msgid and parameters, never as text in the language of whoever computed them,
and are translated again for each reader.

``msg(gettext_noop("%(n)d refused"), n=3)`` gives a ``Msg``: a ``str`` already rendered
in the active language (so code and tests read it like any string) that also remembers
its source. ``stored()`` turns Msgs (nested in lists and dicts) into their sources for a
JSON field, ``loaded()`` turns sources back into Msgs rendered in the active language.
A plain string stored before this existed is loaded as it was (the old rows stay
readable, in the language they were written in).
"""

from typing import Any

from django.utils.functional import Promise

from zalohub.core.stored_text import Reason, msgid_of, reason

Source = dict[str, Any]  # Reason.as_json(): {"t": msgid, "a": params (dict or list), "c": code}


def _param(value: Any) -> Any:
    if isinstance(value, Msg):
        return Reason.from_json(value.source)
    return value  # the rest as core.stored_text.reason takes it


def render(source: Source) -> str:
    """The source in the active language (core.stored_text renders it, as it renders
    stored failure reasons)."""
    return Reason.from_json(source).render()


class Msg(str):
    """A rendered text that keeps its msgid and parameters for storage."""

    source: Source

    def __new__(cls, source: Source) -> "Msg":
        obj = super().__new__(cls, render(source))
        obj.source = source
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        return (Msg, (self.source,))

    def __deepcopy__(self, memo: dict[int, Any]) -> "Msg":
        return self


def msg(msgid: str | Promise, *args: Any, **kwargs: Any) -> Msg:
    """A text to store: ``msgid`` marked with gettext_noop (or a gettext_lazy string) and
    its positional or named parameters, each a value or a Msg."""
    found = reason(msgid, *(_param(v) for v in args), **{k: _param(v) for k, v in kwargs.items()})
    return Msg(found.as_json())


def stored(value: Any) -> Any:
    """``value`` ready for a JSON field: every Msg replaced by its source."""
    if isinstance(value, Msg):
        return value.source
    if isinstance(value, Reason):
        return value.as_json()
    if isinstance(value, Promise):
        return {"t": msgid_of(value)}
    if isinstance(value, dict):
        return {k: stored(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [stored(v) for v in value]
    return value


def loaded(value: Any) -> Any:
    """A stored value back, every source rendered in the active language."""
    if isinstance(value, dict):
        if "t" in value and set(value) <= {"t", "a", "c"}:
            return Msg(value)
        return {k: loaded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [loaded(v) for v in value]
    return value
