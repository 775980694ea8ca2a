"""Templates: rejected / disabled ZBS templates and why, quota used and remaining, and
sends that failed because of the template. Diagnostics sits above zbs, so it reads zbs's
models directly."""

from datetime import datetime
from typing import Any

from django.db.models import Choices
from django.utils.translation import gettext_lazy

# Texts are stored untranslated and rendered per reader (text.py): _ only marks them.
from django.utils.translation import gettext_noop as _

from zalohub.accounts.models import OfficialAccount
from zalohub.diagnostics.categories import Category, next_step
from zalohub.diagnostics.checks import CheckResult, Evidence, links
from zalohub.diagnostics.checks.sends import FailureTally, category_result
from zalohub.diagnostics.models import Level
from zalohub.diagnostics.registry import Inputs, register_check
from zalohub.diagnostics.text import msg
from zalohub.zbs.models import Quality, Template, ZbsSettings

BAD_STATUSES = (Template.Status.REJECTED, Template.Status.DISABLED)
MAX_LISTED = 500


def bad_templates(*, oa: OfficialAccount) -> list[dict[str, Any]]:
    """Rejected or disabled templates of the OA with the reason and quality Zalo gave."""
    rows = []
    for template in Template.objects.filter(oa=oa, status__in=BAD_STATUSES).order_by("pk")[
        :MAX_LISTED
    ]:
        rows.append(
            {
                "id": template.pk,
                "name": template.name,
                "status": template.status,
                "status_label": _label(Template.Status, template.status),
                "reject_reason": template.reject_reason,
                "quality": _label(Quality, template.quality),
                "disabled_cause": _label(Template.DisabledCause, template.disabled_cause),
            }
        )
    return rows


def quota(*, oa: OfficialAccount) -> dict[str, int] | None:
    """Zalo's daily ZNS quota of the OA and what is left, as zbs last read it."""
    row = ZbsSettings.objects.filter(oa=oa).first()
    if row is None or row.daily_quota is None:
        return None
    total, left = row.daily_quota, row.remaining_quota or 0
    return {"daily": total, "remaining": left, "used": max(0, total - left)}


@register_check("templates", title=gettext_lazy("Templates"), position=50)
def run_check(inputs: Inputs) -> CheckResult:
    return check_templates(oa=inputs.oa, now=inputs.now, tally=inputs.tally)


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
        disabled = [r for r in bad if r["status"] == Template.Status.DISABLED]
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
            url = links.zbs_templates(oa, status__exact=status)
            count = sum(1 for r in bad if r["status"] == status)
            shown = next(r["status_label"] for r in bad if r["status"] == status)
            label = msg(_("ZBS templates: %s"), shown)
            result.evidence.append(Evidence(label, url, count))
    else:
        result.evidence.append(Evidence(msg(_("ZBS templates")), links.zbs_templates(oa)))
    return result


def _rank(level: str) -> int:
    return {Level.GREEN: 0, Level.AMBER: 1, Level.RED: 2}[Level(level)]


def _label(choices: type[Choices], value: str) -> str:
    """A choice's label as a Msg (stored checks render it per reader), else the value."""
    label = dict(choices.choices).get(value)
    return msg(label) if label is not None and value else value
