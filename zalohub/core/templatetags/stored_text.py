"""``{{ event.error_message|stored_text }}``: a stored failure reason in the reader's
language (see zalohub.core.stored_text)."""

from django import template

from zalohub.core.stored_text import stored_text as _stored_text

register = template.Library()


@register.filter
def stored_text(value: str, code: int | None = None) -> str:
    return _stored_text(value or "", code=code)
