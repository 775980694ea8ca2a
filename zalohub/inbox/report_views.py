"""The inbox's reports page (issue 19): filters, two SVG charts in the style of
Diagnostics' health cards, per-agent and per-OA tables, and the days as CSV."""

import csv
from datetime import date, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from zalohub.inbox import access, reports
from zalohub.inbox.models import OAMembership
from zalohub.inbox.views import inbox_view

WIDTH, HEIGHT, BAR_AREA = 640, 150, 130
MAX_DAYS = 92


def _date(raw: str, default: date) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return default


def filters_from(request: HttpRequest) -> tuple[reports.Filters, dict[str, Any]]:
    oas = list(access.visible_oas(request.user).order_by("name"))
    chosen = request.GET.get("oa", "")
    oa_ids = tuple(oa.pk for oa in oas if chosen in ("", str(oa.pk)))
    members = OAMembership.objects.filter(oa__in=oas).values("user_id")
    agents = list(get_user_model().objects.filter(pk__in=members).order_by("username"))
    raw_agent = request.GET.get("agent", "")
    agent = next((a for a in agents if str(a.pk) == raw_agent), None)
    today = timezone.localdate()
    end = _date(request.GET.get("end", ""), today)
    start = _date(request.GET.get("start", ""), end - timedelta(days=6))
    start = max(min(start, end), end - timedelta(days=MAX_DAYS - 1))
    filters = reports.Filters(
        oa_ids=oa_ids, agent_id=agent.pk if agent else None, start=start, end=end
    )
    return filters, {"oas": oas, "agents": agents, "chosen_oa": chosen, "chosen_agent": raw_agent}


def _bars(values: list[float], *, offset: int, count: int, scale: float) -> list[dict[str, int]]:
    slot = WIDTH / max(1, count)
    width = max(2, int(slot / 2) - 2)
    bars = []
    for n, value in enumerate(values):
        height = int(BAR_AREA * value / scale) if scale else 0
        bars.append(
            {
                "x": int(n * slot) + offset * width + 2,
                "y": BAR_AREA - height,
                "width": width,
                "height": height,
                "label_x": int(n * slot + slot / 2),
            }
        )
    return bars


def charts(report: reports.Report) -> list[dict[str, Any]]:
    days = list(report.days.items())
    new = [float(b.new) for _d, b in days]
    resolved = [float(b.resolved) for _d, b in days]
    frt = [(b.first_response_median or 0) / 60 for _d, b in days]
    res = [(b.resolution_median or 0) / 60 for _d, b in days]
    volume = max([*new, *resolved, 1.0])
    minutes = max([*frt, *res, 1.0])
    return [
        {
            "id": "chart-volume",
            "title": _("Conversations: new and resolved, by day"),
            "days": [
                {"day": d, "a": a, "b": b, "a_value": int(n), "b_value": int(r)}
                for (d, _bucket), a, b, n, r in zip(
                    days,
                    _bars(new, offset=0, count=len(days), scale=volume),
                    _bars(resolved, offset=1, count=len(days), scale=volume),
                    new,
                    resolved,
                    strict=True,
                )
            ],
            "legend": (_("new"), _("resolved")),
        },
        {
            "id": "chart-times",
            "title": _("Median first response and resolution, minutes, by day"),
            "days": [
                {"day": d, "a": a, "b": b, "a_value": f"{f:.1f}", "b_value": f"{r:.1f}"}
                for (d, _bucket), a, b, f, r in zip(
                    days,
                    _bars(frt, offset=0, count=len(days), scale=minutes),
                    _bars(res, offset=1, count=len(days), scale=minutes),
                    frt,
                    res,
                    strict=True,
                )
            ],
            "legend": (_("first response"), _("resolution")),
        },
    ]


def _csv(report: reports.Report) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"inbox-report-{report.filters.start}-{report.filters.end}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "day",
            "new_conversations",
            "resolved",
            "first_response_median_seconds",
            "resolution_median_seconds",
            "agent_replies",
            "replies_outside_free_window",
        ]
    )
    writer.writerows(reports.csv_rows(report))
    return response


def human(seconds: float | None) -> str:
    """A duration a team lead reads at a glance: 45 s, 12 min, 3.5 h, 2.1 d."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return _("%(n)d s") % {"n": round(seconds)}
    if seconds < 3600:
        return _("%(n)d min") % {"n": round(seconds / 60)}
    if seconds < 86400:
        return _("%(n).1f h") % {"n": seconds / 3600}
    return _("%(n).1f d") % {"n": seconds / 86400}


def _row(name: str, bucket: reports.Bucket) -> dict[str, Any]:
    return {
        "name": name,
        "new": bucket.new,
        "resolved": bucket.resolved,
        "first_response": human(bucket.first_response_median),
        "resolution": human(bucket.resolution_median),
        "replies": bucket.replies,
        "outside_window": bucket.outside_window,
    }


@require_GET
@inbox_view
def report_page(request: HttpRequest) -> HttpResponse:
    filters, choices = filters_from(request)
    report = reports.build(filters)
    if request.GET.get("format") == "csv":
        return _csv(report)
    names = {a.pk: a.get_username() for a in choices["agents"]}
    oa_names = {oa.pk: oa.name for oa in choices["oas"]}
    context = {
        **choices,
        "filters": filters,
        "report": report,
        "charts": charts(report),
        "chart_width": WIDTH,
        "chart_height": HEIGHT,
        "total": _row(_("All"), report.total),
        "agent_rows": sorted(
            (_row(names.get(pk, "") if pk else _("Nobody"), b) for pk, b in report.agents.items()),
            key=lambda row: str(row["name"]),
        ),
        "oa_rows": sorted(
            (_row(oa_names.get(pk, ""), b) for pk, b in report.oas.items()),
            key=lambda row: str(row["name"]),
        ),
        "query_string": request.GET.urlencode(),
    }
    return render(request, "inbox/reports.html", context)
