"""Templates: rejected / disabled ZBS templates and why, quota used and remaining, and
sends that failed because of the template. The zbs app may be absent or still growing:
everything it offers is read through the app registry, guarded."""

from datetime import datetime
from typing import Any

from django.apps import apps
from django.db.models import Model

# Texts are stored untranslated and rendered per reader (text.py): _ only marks them.
from django.utils.translation import gettext_noop as _

from zalohub.accounts.models import OfficialAccount
from zalohub.diagnostics.categories import Category, next_step
from zalohub.diagnostics.checks import CheckResult, Evidence, links
from zalohub.diagnostics.checks.sends import FailureTally, category_result
from zalohub.diagnostics.models import Level
from zalohub.diagnostics.text import msg

BAD_STATUSES = {"rejected", "reject", "disabled", "disable"}


def _zbs_model(*names: str) -> type[Model] | None:
    if not apps.is_installed("zalohub.zbs"):
        return None
    for name in names:
        try:
            return apps.get_model("zbs", name)
        except LookupError:
            continue
    return None


def _field(model: type[Model], *names: str) -> str | None:
    fields = {f.name for f in model._meta.get_fields()}
    return next((n for n in names if n in fields), None)


def bad_templates(*, oa: OfficialAccount) -> list[dict[str, Any]]:
    """Rejected or disabled templates of the OA with the reason and quality Zalo gave."""
    model = _zbs_model("Template", "ZbsTemplate", "ZnsTemplate")
    if model is None:
        return []
    status, oa_field = _field(model, "status"), _field(model, "oa", "official_account")
    if status is None or oa_field is None:
        return []
    reason = _field(model, "reject_reason", "rejection_reason", "reason")
    quality = _field(model, "quality", "template_quality")
    cause = _field(model, "disabled_cause")
    name = _field(model, "name", "template_name")
    rows = []
    for template in model.objects.filter(**{oa_field: oa}).order_by("pk")[:500]:
        value = str(getattr(template, status, "") or "")
        if value.lower() not in BAD_STATUSES:
            continue
        rows.append(
            {
                "id": template.pk,
                "name": str(getattr(template, name, "") if name else template),
                "status": value,
                "status_label": _display(template, status),
                "reject_reason": str(getattr(template, reason, "") or "") if reason else "",
                "quality": _display(template, quality) if quality else "",
                "disabled_cause": _display(template, cause) if cause else "",
            }
        )
    return rows


def quota(*, oa: OfficialAccount) -> dict[str, int] | None:
    """Daily quota and what is left, from wherever the zbs app keeps it."""
    for holder in ("ZbsSettings", "Quota", "OaQuota", "ZnsQuota", "QuotaSnapshot"):
        model = _zbs_model(holder)
        if model is None:
            continue
        oa_field = _field(model, "oa", "official_account")
        daily = _field(model, "daily_quota", "daily", "limit")
        remaining = _field(model, "remaining_quota", "remaining")
        if not (oa_field and daily and remaining):
            continue
        row = model.objects.filter(**{oa_field: oa}).order_by("-pk").first()
        if row is not None and getattr(row, daily) is not None:
            total, left = int(getattr(row, daily) or 0), int(getattr(row, remaining) or 0)
            return {"daily": total, "remaining": left, "used": max(0, total - left)}
    oa_quota = {f.name for f in oa._meta.get_fields()}
    if {"zns_daily_quota", "zns_remaining_quota"} <= oa_quota:
        total = int(oa.zns_daily_quota or 0)  # type: ignore[attr-defined]
        left = int(oa.zns_remaining_quota or 0)  # type: ignore[attr-defined]
        return {"daily": total, "remaining": left, "used": max(0, total - left)}
    return None


def check_templates(*, oa: OfficialAccount, now: datetime, tally: FailureTally) -> CheckResult:
    result = category_result(
        key="templates",
        title=msg(_("Templates")),
        category=Category.TEMPLATE,
        oa=oa,
        tally=tally,
        now=now,
        what=msg(_("template rejected, disabled or out of quota")),
    )
    templates_installed = _zbs_model("Template", "ZbsTemplate", "ZnsTemplate") is not None
    bad = bad_templates(oa=oa)
    for row in bad:
        detail = row["reject_reason"] or row["disabled_cause"] or msg(_("no reason given"))
        if row["quality"]:
            detail = msg(
                _("%(detail)s · quality %(quality)s"), detail=detail, quality=row["quality"]
            )
        name = msg(_("%(name)s (%(status)s)"), name=row["name"], status=row["status_label"])
        result.facts.append((name, detail))
    if bad:
        disabled = [r for r in bad if r["status"].lower().startswith("disable")]
        result.level = Level.RED if disabled else max(result.level, Level.AMBER, key=_rank)
        result.summary = msg(
            _("%(n)d template(s) rejected or disabled: %(names)s."),
            n=len(bad),
            names=", ".join(r["name"] for r in bad[:5]),
        )
        result.category = Category.TEMPLATE
        result.next_step = next_step(Category.TEMPLATE)
    left = quota(oa=oa)
    if left is not None:
        result.facts.append(
            (
                msg(_("Quota used / remaining")),
                msg(_("%(used)d / %(remaining)d of %(daily)d"), **left),
            )
        )
        if left["daily"] and left["remaining"] <= 0:
            result.level = Level.RED
            result.summary = msg(_("The daily ZNS quota is spent (%d)."), left["daily"])
            result.category = Category.TEMPLATE
            result.next_step = next_step(Category.TEMPLATE, -144)
    if bad:
        for status in sorted({r["status"] for r in bad}):
            url = links.zbs_templates(oa, "template", status__exact=status)
            if url:
                count = sum(1 for r in bad if r["status"] == status)
                shown = next(r["status_label"] for r in bad if r["status"] == status)
                label = msg(_("ZBS templates: %s"), shown)
                result.evidence.append(Evidence(label, url, count))
    elif url := links.zbs_templates(oa, "template"):
        result.evidence.append(Evidence(msg(_("ZBS templates")), url))
    if not templates_installed:
        result.facts.append(
            (msg(_("ZBS templates")), msg(_("not available (the templates app is absent)")))
        )
    return result


def _rank(level: str) -> int:
    return {Level.GREEN: 0, Level.AMBER: 1, Level.RED: 2}[Level(level)]


def _display(row: Model, field: str) -> str:
    """A choice's label as a Msg (stored checks render it per reader), else the value."""
    value = getattr(row, field, "")
    try:
        label = dict(row._meta.get_field(field).flatchoices).get(value)  # type: ignore[union-attr]
    except (AttributeError, TypeError, LookupError):
        label = None
    return msg(label) if label is not None else str(value if value is not None else "")
