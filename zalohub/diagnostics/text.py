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
from django.utils.translation import gettext

from zalohub.core.stored_text import stored_text

Source = dict[str, Any]  # {"t": msgid, "a": params (dict, list or absent)}


def _msgid(value: str | Promise) -> str:
    """The English source of a gettext_lazy string (its msgid), or the string itself."""
    if isinstance(value, Promise):
        args = getattr(value, "_args", ())
        if len(args) == 1 and isinstance(args[0], str):
            return args[0]
        return str(value)
    return str(value)


def _param(value: Any) -> Any:
    if isinstance(value, Msg):
        return value.source
    if isinstance(value, Promise):
        return {"t": _msgid(value)}
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)


def _arg(value: Any) -> Any:
    if isinstance(value, dict) and "t" in value:
        return render(value)
    if isinstance(value, str):
        # A failure reason copied from a row (an OA's last error, an event's error) as
        # it was written there: in the reader's language too.
        return stored_text(value)
    return value


def render(source: Source) -> str:
    """The source in the active language; the English msgid when its translation does not
    fit the parameters (a catalogue mistake must not break a page)."""
    msgid = str(source.get("t") or "")
    if not msgid:
        return ""
    text = gettext(msgid)
    params = source.get("a")
    if params is None:
        return text
    args: Any = (
        {k: _arg(v) for k, v in params.items()}
        if isinstance(params, dict)
        else tuple(_arg(v) for v in params)
    )
    for pattern in (text, msgid):
        try:
            return pattern % args
        except (TypeError, ValueError, KeyError):
            continue
    return msgid


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
    source: Source = {"t": _msgid(msgid)}
    if kwargs:
        source["a"] = {k: _param(v) for k, v in kwargs.items()}
    elif args:
        source["a"] = [_param(v) for v in args]
    return Msg(source)


def stored(value: Any) -> Any:
    """``value`` ready for a JSON field: every Msg replaced by its source."""
    if isinstance(value, Msg):
        return value.source
    if isinstance(value, Promise):
        return {"t": _msgid(value)}
    if isinstance(value, dict):
        return {k: stored(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [stored(v) for v in value]
    return value


def loaded(value: Any) -> Any:
    """A stored value back, every source rendered in the active language."""
    if isinstance(value, dict):
        if "t" in value and set(value) <= {"t", "a"}:
            return Msg(value)
        return {k: loaded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [loaded(v) for v in value]
    return value
