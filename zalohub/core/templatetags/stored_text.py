"""``{{ event|stored_reason:"error_message" }}``: a stored failure in the reader's
language, from its JSON column when the row has one (see zalohub.core.stored_text)."""

from django import template

from zalohub.core.stored_text import shown_reason

register = template.Library()


@register.filter
def stored_reason(row: object, column: str) -> str:
    return shown_reason(row, column)
