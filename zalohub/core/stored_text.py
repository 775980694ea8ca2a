"""Failure reasons stored as text, shown in the reader's language.

Events, messages, template sends and API logs keep their failure reason in a text
column, written when the failure happened. The text is one of two things:
- Zalo's own message behind a Zalo code (or an HTTP status): shown as the code with the
  explanation ``zalo.errors.explain`` gives in the reader's language;
- one of the hub's own messages, a msgid of the catalogue rendered with parameters
  (English when written by a worker, the actor's language when written by a request):
  matched back to its msgid and parameters, then rendered again in the reader's
  language. The msgid and parameters are the code; the column only carries them.
A text that matches neither (typed by a person, or written by an older version that
the catalogue no longer has) is shown as it was stored.
"""

import gettext as gettext_module
import re
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

from zalohub.zalo.errors import explain

_PLACEHOLDER = re.compile(r"%\((\w+)\)[sdf]|%[sdf]")
_ZALO = re.compile(r"^Zalo error (-?\d+): ", re.S)
_HTTP = re.compile(r"^HTTP (\d{3}): ", re.S)
# A msgid needs this many characters that are not parameters to be recognised: "%s"
# or "%(a)s: %(b)s" would match any text.
_MIN_LITERAL = 8


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, str]:
    """msgid -> Vietnamese msgstr of the hub's own catalogue (not Django's)."""
    path = Path(settings.LOCALE_PATHS[0]) / "vi" / "LC_MESSAGES" / "django.mo"
    try:
        with path.open("rb") as handle:
            catalog = gettext_module.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    except OSError:
        return {}
    return {k: v for k, v in catalog.items() if isinstance(k, str) and k and v}


def _pattern(text: str) -> re.Pattern[str] | None:
    names = _PLACEHOLDER.findall(text)
    literal = _PLACEHOLDER.sub("", text)
    if len(literal.strip()) < _MIN_LITERAL or len(set(names)) != len(names):
        return None
    parts, position = [], 0
    for index, match in enumerate(_PLACEHOLDER.finditer(text)):
        parts.append(re.escape(text[position : match.start()]))
        parts.append(f"(?P<{match.group(1) or f'_{index}'}>.+?)")
        position = match.end()
    parts.append(re.escape(text[position:]))
    return re.compile("".join(parts), re.S)


@lru_cache(maxsize=1)
def _known() -> tuple[dict[str, str], list[tuple[re.Pattern[str], str]]]:
    """(each literal text -> its msgid, (pattern, msgid) of texts with parameters),
    for the English msgids and their Vietnamese translations alike."""
    literal: dict[str, str] = {}
    patterns: list[tuple[re.Pattern[str], str]] = []
    for msgid, msgstr in _catalogue().items():
        for text in (msgid, msgstr):
            if not _PLACEHOLDER.search(text):
                literal.setdefault(text, msgid)
            elif (pattern := _pattern(text)) is not None:
                patterns.append((pattern, msgid))
    # The most specific first: a long msgid must win over a short one it contains.
    patterns.sort(key=lambda item: -len(_PLACEHOLDER.sub("", item[0].pattern)))
    return literal, patterns


def _render(msgid: str, params: dict[str, str]) -> str:
    values = {k: stored_text(v, _depth=1) for k, v in params.items()}
    named = not any(k.startswith("_") for k in values)
    args: object = values if named else tuple(values[k] for k in sorted(values))
    for text in (gettext(msgid), msgid):
        try:
            return text % args
        except (TypeError, ValueError, KeyError):
            continue
    return msgid


def _zalo(text: str) -> str | None:
    if match := _ZALO.match(text):
        code = int(match.group(1))
        if explanation := explain(code):
            return gettext("Zalo error %(code)s: %(explanation)s") % {
                "code": code,
                "explanation": explanation,
            }
    elif (match := _HTTP.match(text)) and (explanation := explain(http_status=int(match[1]))):
        return explanation
    return None


def stored_text(text: str, *, code: int | None = None, _depth: int = 0) -> str:
    """``text`` (a stored failure reason) in the active language; ``code`` is the Zalo
    error code stored beside it, when there is one."""
    if not text or _depth > 2:
        return text
    return _cached(text, code, translation.get_language() or "", _depth)


@lru_cache(maxsize=4096)
def _cached(text: str, code: int | None, _language: str, depth: int) -> str:
    if code is not None and (explanation := explain(code)) and depth == 0:
        return gettext("Zalo error %(code)s: %(explanation)s") % {
            "code": code,
            "explanation": explanation,
        }
    if (zalo := _zalo(text)) is not None:
        return zalo
    literal, patterns = _known()
    # A parameter is often data (a template's name, which may equal some label's
    # translation): only an English msgid is taken for a label there.
    if text in literal and (depth == 0 or literal[text] == text):
        return gettext(literal[text])
    for pattern, msgid in patterns:
        if match := pattern.fullmatch(text):
            return _render(msgid, match.groupdict())
    return text
