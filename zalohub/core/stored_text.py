"""Failure reasons stored as a msgid and parameters, shown in the reader's language.

A failure (an event's error, a message's failure, an API call's error, an OA's last
error) is written once, by a worker in English or by a request in its user's language,
and read later by anyone. So it is kept as a ``Reason``: the English msgid (marked with
``gettext_noop`` where it is written, so makemessages finds it), its parameters (data,
or nested Reasons for labels), and Zalo's error code when Zalo gave one. Each failure
column has a JSON column beside it (``<column>_i18n``) holding ``Reason.as_json()``; the
text column keeps the English rendering for the admin's search, and rows written before
the JSON column existed are shown as their text, as stored.

A Reason with a Zalo ``code`` is shown as the code and ``zalo.errors.explain(code)`` in
the reader's language; Zalo's own (English or Vietnamese) text is a parameter, shown
when there is no explanation. diagnostics stores its findings in the same form
(``diagnostics.text``), so one renderer serves both.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_noop

from zalohub.zalo.errors import ZaloError, explain

Param = Union[str, int, float, None, "Reason"]

# Zalo's own message behind a Zalo code: the code is what the reader is shown.
ZALO_ERROR = gettext_noop("Zalo error %(code)s: %(message)s")
ZALO_EXPLAINED = gettext_noop("Zalo error %(code)s: %(explanation)s")
# A failed HTTP answer without a Zalo code: explained by its status when explain() can.
HTTP_ERROR = "HTTP %(status)s: %(message)s"


def msgid_of(value: str | Promise) -> str:
    """The English source of a gettext_lazy string (its msgid), or the string itself."""
    if isinstance(value, Promise):
        args: tuple[Any, ...] = getattr(value, "_args", ())
        if len(args) == 1 and isinstance(args[0], str):
            return args[0]
    return str(value)


def _param(value: Any) -> Param:
    if isinstance(value, Reason | int | float) or value is None:
        return value
    if isinstance(value, Promise):  # a label (gettext_lazy): translated for each reader
        return Reason(msgid_of(value))
    if isinstance(value, Mapping) and "t" in value:
        return Reason.from_json(value)
    if isinstance(value, ZaloError):
        return zalo_reason(value)
    reason = getattr(value, "reason", None)  # an exception carrying its Reason
    if isinstance(reason, Reason):
        return reason
    return str(value)


def _shown(value: Param) -> Any:
    return value.render() if isinstance(value, Reason) else value


def _json(value: Param) -> Any:
    return value.as_json() if isinstance(value, Reason) else value


@dataclass(frozen=True)
class Reason:
    """A text to store: an English msgid, its parameters (named, or positional for
    ``%s`` msgids) and, for Zalo's errors, Zalo's code and the host that answered it
    (a code may mean one thing on the OA host and another on the ZBS one)."""

    msgid: str
    params: Mapping[str, Param] | tuple[Param, ...] = field(default_factory=dict)
    code: int | None = None
    host: str = ""

    def render(self) -> str:
        """In the active language; the English msgid when its translation does not fit
        the parameters (a catalogue mistake must not break a page)."""
        if self.code is not None and (explanation := explain(self.code, host=self.host)):
            return gettext(ZALO_EXPLAINED) % {"code": self.code, "explanation": explanation}
        if self.msgid == HTTP_ERROR and isinstance(self.params, Mapping):
            status = self.params.get("status")
            if isinstance(status, int) and (explanation := explain(http_status=status)):
                return explanation
        if not self.msgid:
            return ""
        text = gettext(self.msgid)
        if not self.params:
            return text
        args: Any = (
            {k: _shown(v) for k, v in self.params.items()}
            if isinstance(self.params, Mapping)
            else tuple(_shown(v) for v in self.params)
        )
        for pattern in (text, self.msgid):
            try:
                return pattern % args
            except (TypeError, ValueError, KeyError):
                continue
        return self.msgid

    def english(self) -> str:
        """In English (whatever the active language)."""
        with translation.override("en"):
            return self.render()

    def column_text(self) -> str:
        """The text column's value (searched in the admin, shown for rows without JSON):
        English, with Zalo's own words kept beside the explanation of a Zalo error."""
        shown = self.english()
        zalo_words = self.params.get("message") if isinstance(self.params, Mapping) else None
        if self.code is not None and zalo_words and str(zalo_words) not in shown:
            return f"{shown} ({zalo_words})"
        return shown

    def __str__(self) -> str:
        return self.render()

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"t": self.msgid}
        if isinstance(self.params, Mapping):
            if self.params:
                data["a"] = {k: _json(v) for k, v in self.params.items()}
        elif self.params:
            data["a"] = [_json(v) for v in self.params]
        if self.code is not None:
            data["c"] = self.code
        if self.host:
            data["h"] = self.host
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Reason":
        params = data.get("a")
        code = data.get("c")
        if isinstance(params, Mapping):
            loaded: Mapping[str, Param] | tuple[Param, ...] = {
                str(k): _param(v) for k, v in params.items()
            }
        elif isinstance(params, list | tuple):
            loaded = tuple(_param(v) for v in params)
        else:
            loaded = {}
        host = data.get("h")
        return cls(
            str(data.get("t") or ""),
            loaded,
            code if isinstance(code, int) else None,
            host if isinstance(host, str) else "",
        )


def reason(msgid: str | Promise, *args: Any, **params: Any) -> Reason:
    """A Reason from ``msgid`` (marked with gettext_noop, or a gettext_lazy string) and its
    named (or positional) parameters: a value, a label (lazy string), a Reason, or an
    exception that carries a Reason (or a ZaloError)."""
    if params:
        return Reason(msgid_of(msgid), {k: _param(v) for k, v in params.items()})
    return Reason(msgid_of(msgid), tuple(_param(v) for v in args))


def text(value: str) -> Reason:
    """A text that is data, not a msgid (typed by a person, or an exception's message)."""
    return Reason("%(text)s", {"text": value})


def zalo_reason(error: ZaloError) -> Reason:
    """A failed call to Zalo: its code (explained in the reader's language), or the hub's
    own words about it (could not reach Zalo...), or the HTTP status it answered
    (explained when explain() can), or its message as data."""
    if error.code is not None:
        words: dict[str, Param] = {"code": error.code, "message": error.message}
        return Reason(ZALO_ERROR, words, error.code, error.host)
    if error.msgid:
        return Reason(error.msgid, {k: _param(v) for k, v in error.params.items()})
    if error.http_status is not None:
        return Reason(HTTP_ERROR, {"status": error.http_status, "message": error.message})
    return text(error.message)


def as_reason(value: "Reason | ZaloError | BaseException | str") -> Reason:
    """A Reason for what a writer has: a Reason, a ZaloError, an exception carrying a
    Reason in ``.reason``, or else its text (kept as data, in the language it is in)."""
    if isinstance(value, Reason):
        return value
    param = _param(value)
    return param if isinstance(param, Reason) else text(str(param))


def reason_fields(column: str, value: "Reason | ZaloError | BaseException | str | None") -> dict:
    """The text column and its JSON twin for an update: ``.update(**reason_fields(
    "error_message", why))``; None (or "") clears both."""
    if value is None or value == "":
        return {column: "", f"{column}_i18n": None}
    found = as_reason(value)
    return {column: found.column_text(), f"{column}_i18n": found.as_json()}


def shown(stored: str, data: Mapping[str, Any] | None) -> str:
    """A stored failure in the reader's language: rendered from its JSON column when the
    row has one, else the text column as it was written (rows older than the JSON)."""
    if data and isinstance(data, Mapping) and "t" in data:
        return Reason.from_json(data).render()
    return stored or ""


def stored_reason(row: object, column: str) -> Reason | None:
    """The Reason stored in ``row.<column>_i18n``, else the text column as data (a row
    older than the JSON column); None when the row has no failure."""
    data = getattr(row, f"{column}_i18n", None)
    if data and isinstance(data, Mapping) and "t" in data:
        return Reason.from_json(data)
    stored = getattr(row, column, "") or ""
    return text(stored) if stored else None


def shown_reason(row: object, column: str) -> str:
    """``shown`` for ``row.<column>`` and ``row.<column>_i18n``."""
    return shown(getattr(row, column, "") or "", getattr(row, f"{column}_i18n", None))
