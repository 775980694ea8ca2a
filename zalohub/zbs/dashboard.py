"""The OA's ZBS dashboard: 30 days of sends and failures, failures by reason, quota use,
drawn as inline SVG on the server (no JavaScript, nothing fetched from elsewhere)."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from zalohub.accounts.models import OfficialAccount
from zalohub.events.models import ZaloState
from zalohub.zbs.models import Template, TemplateSend
from zalohub.zbs.services import oa_settings

DAYS = 30
W, H, PAD = 720, 220, 28


@dataclass
class Dashboard:
    days: list[date]
    sent: list[int]
    failed: list[int]
    reasons: list[tuple[str, int]]
    daily_quota: int | None
    remaining: int | None
    templates: list[Template]
    chart: SafeString
    reasons_chart: SafeString
    quota_chart: SafeString


def _per_day(rows: Any, days: list[date]) -> list[int]:
    counts = {r["day"]: r["n"] for r in rows}
    return [counts.get(d, 0) for d in days]


def dashboard_for(*, oa: OfficialAccount) -> Dashboard:
    today = timezone.localdate()
    days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    sends = TemplateSend.objects.filter(oa=oa, created_at__date__gte=days[0])
    by_day = sends.annotate(day=TruncDate("created_at")).values("day")
    failed_q = by_day.filter(message__zalo_state=ZaloState.FAILED)
    sent = _per_day(
        by_day.exclude(message__zalo_state=ZaloState.FAILED).annotate(n=Count("id")), days
    )
    failed = _per_day(failed_q.annotate(n=Count("id")), days)
    reasons = [
        (_reason(r["message__failure_code"], r["message__events__error_category"]), r["n"])
        for r in sends.filter(message__zalo_state=ZaloState.FAILED)
        .values("message__failure_code", "message__events__error_category")
        .annotate(n=Count("id"))
        .order_by("-n")[:8]
    ]
    settings = oa_settings(oa)
    return Dashboard(
        days=days,
        sent=sent,
        failed=failed,
        reasons=reasons,
        daily_quota=settings.daily_quota,
        remaining=settings.remaining_quota,
        templates=list(oa.zbs_templates.order_by("status", "name")),
        chart=sends_chart(days, sent, failed),
        reasons_chart=reasons_chart(reasons),
        quota_chart=quota_chart(settings.daily_quota, settings.remaining_quota),
    )


def _reason(code: int | None, category: str | None) -> str:
    if code:
        return _("Zalo error %d") % code
    return {
        "recipient": _("No usable route"),
        "template": _("Template not sendable"),
        "send": _("Refused before sending"),
        "token": _("Token"),
    }.get(category or "", _("Other"))


def sends_chart(days: list[date], sent: list[int], failed: list[int]) -> SafeString:
    """Stacked bars per day: sent (green) under failed (red)."""
    top = max([s + f for s, f in zip(sent, failed, strict=True)] + [1])
    step = (W - 2 * PAD) / len(days)
    bars = []
    for i, (day, ok, bad) in enumerate(zip(days, sent, failed, strict=True)):
        x = PAD + i * step
        ok_h = (H - 2 * PAD) * ok / top
        bad_h = (H - 2 * PAD) * bad / top
        title = escape(
            _("%(day)s: %(ok)d sent, %(bad)d failed") % {"day": day, "ok": ok, "bad": bad}
        )
        bars.append(
            f"<g><title>{title}</title>"
            f'<rect class="zbs-ok" x="{x:.1f}" y="{H - PAD - ok_h:.1f}" width="{step - 2:.1f}" '
            f'height="{ok_h:.1f}"/>'
            f'<rect class="zbs-bad" x="{x:.1f}" y="{H - PAD - ok_h - bad_h:.1f}" '
            f'width="{step - 2:.1f}" height="{bad_h:.1f}"/></g>'
        )
    labels = (
        f'<text x="{PAD}" y="{H - 8}">{days[0]:%d/%m}</text>'
        f'<text x="{W - PAD}" y="{H - 8}" text-anchor="end">{days[-1]:%d/%m}</text>'
        f'<text x="{PAD - 4}" y="{PAD}" text-anchor="end">{top}</text>'
    )
    label = escape(_("Template sends per day, last 30 days"))
    return mark_safe(  # noqa: S308 (every text in it is escaped above)
        f'<svg class="zbs-chart" id="zbs-sends-chart" viewBox="0 0 {W} {H}" role="img" '
        f'aria-label="{label}"><line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" '
        f'class="zbs-axis"/>{"".join(bars)}{labels}</svg>'
    )


def reasons_chart(reasons: list[tuple[str, int]]) -> SafeString:
    if not reasons:
        return mark_safe("")
    top = max(n for _r, n in reasons)
    row = 26
    height = row * len(reasons) + 8
    parts = []
    for i, (reason, n) in enumerate(reasons):
        width = (W - 260) * n / top
        y = 4 + i * row
        parts.append(
            f'<text x="0" y="{y + 16}">{escape(reason)}</text>'
            f'<rect class="zbs-bad" x="200" y="{y + 3}" width="{width:.1f}" height="18"/>'
            f'<text x="{206 + width:.1f}" y="{y + 16}">{n}</text>'
        )
    label = escape(_("Failures by reason"))
    return mark_safe(  # noqa: S308
        f'<svg class="zbs-chart" id="zbs-reasons-chart" viewBox="0 0 {W} {height}" role="img" '
        f'aria-label="{label}">{"".join(parts)}</svg>'
    )


def quota_chart(daily: int | None, remaining: int | None) -> SafeString:
    if not daily:
        return mark_safe("")
    used = max(0, daily - (remaining or 0))
    width = (W - 2 * PAD) * min(1.0, used / daily)
    text = escape(
        _("%(used)d of %(daily)d used today, %(left)d left")
        % {"used": used, "daily": daily, "left": remaining or 0}
    )
    return mark_safe(  # noqa: S308
        f'<svg class="zbs-chart" id="zbs-quota-chart" viewBox="0 0 {W} 56" role="img" '
        f'aria-label="{text}"><rect class="zbs-axis-bg" x="{PAD}" y="8" width="{W - 2 * PAD}" '
        f'height="20"/><rect class="zbs-used" x="{PAD}" y="8" width="{width:.1f}" height="20"/>'
        f'<text x="{PAD}" y="48">{text}</text></svg>'
    )
