"""Identity evidence, duplicate reasons and merge journals as tables a person reads.

The rows keep their JSON (the journal must undo exactly); these functions only say
what it means, with labels in the reader's language and links to the rows it names.
"""

from typing import Any

from django.apps import apps
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zalohub.partners.models import Partner

# What each key of an evidence or reason dict is, for a person.
EVIDENCE_LABELS: dict[str, Any] = {
    "phone": gettext_lazy("Phone"),
    "source": gettext_lazy("Source event"),
    "zalo_user_id": gettext_lazy("Zalo user ID"),
    "user_id_by_app": gettext_lazy("User ID by app"),
    "app_id": gettext_lazy("Zalo app"),
    "oa": gettext_lazy("Official account"),
    "other_oa": gettext_lazy("Official account of the other link"),
    "other_link": gettext_lazy("The other link"),
    "link_id": gettext_lazy("Zalo partner link"),
    "confirmed_by": gettext_lazy("Confirmed by"),
    "from_partner": gettext_lazy("Previous partner"),
    "merge": gettext_lazy("Merge"),
    "merged_partner": gettext_lazy("Merged partner"),
    "others": gettext_lazy("Other partners with this phone"),
    "verified": gettext_lazy("Verified"),
}
# The events and sources evidence comes from.
SOURCE_LABELS: dict[str, Any] = {
    "user_submit_info": gettext_lazy("The customer shared their details on Zalo"),
    "manual": gettext_lazy("Entered by staff"),
    "zalo_profile": gettext_lazy("Zalo profile"),
    "api": gettext_lazy("Another system"),
}
# Why two partners may be one customer (partners.duplicates rules).
REASON_LABELS: dict[str, Any] = {
    "same_phone": gettext_lazy("Same phone"),
    "same_user_id_by_app": gettext_lazy("Same Zalo user in another OA of the app"),
    "same_email": gettext_lazy("Same email"),
    "similar_name": gettext_lazy("Similar name"),
}
# Keys whose value is the id of a row the admin can open.
ROW_KEYS = {
    "other_link": "partners.zalopartnerlink",
    "link_id": "partners.zalopartnerlink",
    "from_partner": "partners.partner",
    "merged_partner": "partners.partner",
    "others": "partners.partner",
    "merge": "partners.mergejournal",
}
PARTNER_FIELDS = ("name", "email", "notes", "external_refs", "is_shadow")


def table(heads: list[Any], rows: list[list[Any]], css: str = "") -> SafeString:
    """An HTML table; every cell is escaped unless it is already safe."""
    if not rows:
        return format_html("{}", "—")
    head = format_html_join("", '<th scope="col">{}</th>', ((h,) for h in heads))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows),
    )
    return format_html(
        '<table class="zh-readable {}"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
        css,
        head,
        body,
    )


def row_link(label: str, pk: Any) -> SafeString:
    """A link to the admin page of row ``pk`` of model ``label`` (text when none)."""
    try:
        model = apps.get_model(label)
        name = str(model._default_manager.filter(pk=pk).first() or f"#{pk}")
    except (LookupError, ValueError, TypeError):
        return format_html("#{}", pk)
    try:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk])
    except NoReverseMatch:
        return format_html("{}", name)  # a row without a page of its own (a phone)
    return format_html('<a href="{}">{}</a>', url, name)


def _value(key: str, value: Any) -> Any:
    if key in ROW_KEYS and value not in ("", None):
        values = value if isinstance(value, list) else [value]
        return format_html_join(", ", "{}", ((row_link(ROW_KEYS[key], v),) for v in values))
    if key == "source":
        label = SOURCE_LABELS.get(str(value))
        return format_html("{} ({})", label, value) if label else value
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value


def evidence_table(evidence: dict[str, Any] | None) -> SafeString:
    """Evidence | Value, one row per fact the decision rests on."""
    rows = [
        [EVIDENCE_LABELS.get(key, key), _value(key, value)]
        for key, value in (evidence or {}).items()
    ]
    return table([_("Evidence"), _("Value")], rows, "zh-evidence")


def reasons_table(reasons: list[dict[str, Any]] | None) -> SafeString:
    """Evidence | Value | Source event, one row per reason two partners may be one."""
    rows = []
    for reason in reasons or []:
        kind = str(reason.get("kind", ""))
        value = str(reason.get("value", ""))
        if reason.get("verified"):
            value = format_html("{} ({})", value, _("verified"))
        source = reason.get("source")
        rows.append(
            [REASON_LABELS.get(kind, kind), value, _value("source", source) if source else "—"]
        )
    return table([_("Evidence"), _("Value"), _("Source event")], rows, "zh-reasons")


def reasons_text(reasons: list[dict[str, Any]] | None) -> str:
    """The reasons on one line, for a list column."""
    return "; ".join(
        f"{REASON_LABELS.get(str(r.get('kind')), r.get('kind'))}: {r.get('value')}"
        for r in reasons or []
    )


def field_value(name: str, value: Any) -> Any:
    if name == "is_shadow":
        return _("Shadow") if value else _("Verified")
    if name == "external_refs":
        return ", ".join(f"{k}: {v}" for k, v in (value or {}).items()) or "—"
    return value if value not in ("", None) else "—"


def verbose_name(name: str) -> Any:
    """A partner field's name as its form shows it: a lazy string, translated when shown."""
    field = Partner._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"Partner.{name} is a relation's other end, not a field")
    return field.verbose_name


def field_label(name: str) -> str:
    return str(verbose_name(name)).capitalize()


def merge_fields_table(journal: Any) -> SafeString:
    """Field | kept partner before | merged partner before | kept partner after."""
    snapshot = journal.snapshot or {}
    before = snapshot.get("survivor_before", {})
    theirs = snapshot.get("merged_before", {})
    after = snapshot.get("survivor_after", {})
    rows = [
        [
            field_label(name),
            field_value(name, before.get(name)),
            field_value(name, theirs.get(name)),
            field_value(name, after[name]) if name in after else "—",
        ]
        for name in PARTNER_FIELDS
        if name in before or name in theirs
    ]
    # Named by role, with the names they had: after a merge that took the other's name,
    # both partners are called the same.
    who = '{}<br><span class="zh-who">{}</span>'
    heads = [
        _("Field"),
        format_html(who, _("Kept partner, before"), before.get("name", "")),
        format_html(who, _("Merged partner, before"), theirs.get("name", "")),
        format_html(who, _("Kept partner, after"), after.get("name", "")),
    ]
    return table(heads, rows, "zh-merge-fields")


def _model_name(label: str, count: int) -> str:
    try:
        meta = apps.get_model(label)._meta
    except LookupError:
        return label
    return str(meta.verbose_name if count == 1 else meta.verbose_name_plural).capitalize()


def rows_table(entries: list[dict[str, Any]]) -> SafeString:
    """What | how many | which, for the rows a merge moved (or left)."""
    rows = []
    for entry in entries or []:
        pks = entry.get("pks", [])
        which = format_html_join(", ", "{}", ((row_link(entry["model"], pk),) for pk in pks))
        rows.append([_model_name(entry["model"], len(pks)), len(pks), which])
    return table([_("What"), _("How many"), _("Which")], rows, "zh-merge-rows")


def report_table(report: dict[str, Any]) -> SafeString:
    """The merge's findings, each as a sentence with the links it is about."""
    rows = []
    for conflict in report.get("conflicts", []):
        rows.append(
            [
                _("Both had a link on this OA"),
                conflict.get("oa", ""),
                format_html_join(
                    ", ",
                    "{}",
                    (
                        (row_link("partners.zalopartnerlink", conflict.get(k)),)
                        for k in ("survivor_link", "merged_link")
                    ),
                ),
            ]
        )
    for finding in report.get("audit", []):
        if finding.get("kind") == "two_ids_on_one_oa":
            links = format_html_join(
                ", ",
                "{}",
                ((row_link("partners.zalopartnerlink", pk),) for pk in finding.get("links", [])),
            )
            rows.append([_("Two Zalo IDs on one OA: check"), finding.get("oa", ""), links])
        elif finding.get("kind") == "two_ids_by_app":
            rows.append(
                [
                    _("Two user IDs by app in one Zalo app: check"),
                    row_link("accounts.zaloapp", finding.get("app")),
                    ", ".join(finding.get("ids", [])),
                ]
            )
    return table([_("Finding"), _("Where"), _("Rows")], rows, "zh-merge-report")


def undo_report_table(undo_report: dict[str, Any]) -> SafeString:
    if not undo_report:
        return format_html("{}", "—")
    rows = [
        [
            _("Messages since the merge that stay with the kept partner"),
            undo_report.get("messages_since_merge_staying_with_survivor", 0),
        ],
        [
            _("Messages since the merge that went back with their link"),
            undo_report.get("messages_since_merge_moving_back_with_their_link", 0),
        ],
    ]
    for item in undo_report.get("rows_not_moved_back", []):
        rows.append(
            [
                _("Not moved back (changed since the merge): %s")
                % _model_name(item.get("model", ""), 2),
                item.get("missing", 0),
            ]
        )
    return table([_("What"), _("How many")], rows, "zh-undo-report")
