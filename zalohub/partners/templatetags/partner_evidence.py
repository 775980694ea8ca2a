"""``{{ decision.evidence|evidence_table }}``: identity evidence as a table in templates."""

from typing import Any

from django import template
from django.utils.safestring import SafeString

from zalohub.partners import admin_display

register = template.Library()


@register.filter
def evidence_table(evidence: dict[str, Any] | None) -> SafeString:
    return admin_display.evidence_table(evidence)
