"""Where each parameter of a bulk send takes its value: a constant, or a field of the
recipient (name, phone, an external reference such as the ERP's customer code).

A mapping is stored on the bulk send as ``{param: {"source": ..., "key": ...}}``; the
constants stay in ``BulkSend.params`` as before, so a bulk started without a mapping
sends the same values to everyone, as it always did.
"""

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zalohub.partners.models import Partner
from zalohub.zbs.models import Template
from zalohub.zbs.routes import SendProblem, check_params, partner_phone, render

CONSTANT, NAME, PHONE, EMAIL, REF = "const", "name", "phone", "email", "ref"
SOURCE_LABELS = {
    CONSTANT: gettext_lazy("The same value for everyone"),
    NAME: gettext_lazy("The partner's name"),
    PHONE: gettext_lazy("The partner's phone"),
    EMAIL: gettext_lazy("The partner's email"),
}
PREVIEW_SIZE = 5


def source_choices(partners: list[Partner]) -> list[tuple[str, str]]:
    """``(value, label)`` for the source select: the fixed sources, then one per
    external reference any of the partners has (``ref:erp``...)."""
    keys = sorted({str(k) for p in partners for k in (p.external_refs or {})})
    fixed = [(value, str(label)) for value, label in SOURCE_LABELS.items()]
    refs = [(f"{REF}:{key}", _("External reference “%s”") % key) for key in keys]
    return fixed + refs


def mapping_from(data: Any, template: Template) -> tuple[dict[str, str], dict[str, dict]]:
    """(constants, mapping) from the posted form: ``source_<param>`` and ``param_<param>``."""
    constants: dict[str, str] = {}
    mapping: dict[str, dict] = {}
    for param in template.params:
        name = str(param.get("name"))
        source = str(data.get(f"source_{name}") or CONSTANT)
        if source == CONSTANT:
            constants[name] = str(data.get(f"param_{name}") or "").strip()
        elif source.startswith(f"{REF}:"):
            mapping[name] = {"source": REF, "key": source.split(":", 1)[1]}
        elif source in SOURCE_LABELS:
            mapping[name] = {"source": source}
    return constants, mapping


def partner_value(partner: Partner, rule: dict[str, Any]) -> str:
    source = rule.get("source")
    if source == NAME:
        return partner.name
    if source == PHONE:
        return partner_phone(partner)[0]
    if source == EMAIL:
        return partner.email
    if source == REF:
        return str((partner.external_refs or {}).get(str(rule.get("key")), ""))
    return ""


def values_for(
    partner: Partner, constants: dict[str, Any], mapping: dict[str, dict]
) -> dict[str, Any]:
    """The parameters one recipient gets."""
    values = dict(constants)
    for name, rule in (mapping or {}).items():
        values[name] = partner_value(partner, rule)
    return values


@dataclass
class PreviewRow:
    partner: Partner
    values: dict[str, Any]
    text: str = ""
    problem: str = ""
    columns: list[Any] = field(default_factory=list)


def bulk_preview(
    *,
    template: Template,
    partners: list[Partner],
    constants: dict[str, Any],
    mapping: dict[str, dict],
    size: int = PREVIEW_SIZE,
) -> list[PreviewRow]:
    """The message each of the first ``size`` recipients would get, or why it cannot go."""
    rows = []
    for partner in list(dict.fromkeys(p.resolved() for p in partners))[:size]:
        values = values_for(partner, constants, mapping)
        row = PreviewRow(partner=partner, values=values)
        row.columns = [values.get(str(p.get("name")), "") for p in template.params]
        try:
            row.text = render(template, check_params(template, values))
        except SendProblem as exc:
            row.problem = exc.message
        rows.append(row)
    return rows
