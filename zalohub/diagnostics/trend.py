"""Seven days of events and failures per OA, drawn as a small inline SVG bar chart."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from zalohub.accounts.models import OfficialAccount
from zalohub.diagnostics.checks.webhook import customer_events
from zalohub.events.models import ZaloEvent

DAYS = 7
WIDTH, HEIGHT, LABEL = 294, 90, 14  # px; LABEL: room for the day under the bars


@dataclass
class Bar:
    x: float
    y: float
    height: float
    width: float
    value: int


@dataclass
class Day:
    day: date
    events: int
    failures: int
    event_bar: Bar | None = None
    failure_bar: Bar | None = None
    label_x: float = 0.0


def _per_day(qs: QuerySet, field: str, since: datetime) -> dict[date, int]:
    tz = timezone.get_current_timezone()
    rows = (
        qs.filter(**{f"{field}__gte": since})
        .annotate(day=TruncDate(field, tzinfo=tz))
        .values("day")
        .annotate(n=Count("id"))
    )
    return {row["day"]: row["n"] for row in rows}


def trend(*, oa: OfficialAccount, now: datetime | None = None) -> list[Day]:
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    first = today - timedelta(days=DAYS - 1)
    since = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    events = _per_day(customer_events(oa), "received_at", since)
    failures = _per_day(ZaloEvent.objects.filter(oa=oa), "error_at", since)
    days = [
        Day(day=d, events=events.get(d, 0), failures=failures.get(d, 0))
        for d in (first + timedelta(days=i) for i in range(DAYS))
    ]
    peak = max([1, *(d.events for d in days), *(d.failures for d in days)])
    slot = WIDTH / DAYS
    bar = (slot - 6) / 2
    plot = HEIGHT - LABEL
    for index, d in enumerate(days):
        left = index * slot + 3
        for attr, value, offset in (("event_bar", d.events, 0.0), ("failure_bar", d.failures, bar)):
            height = round(plot * value / peak, 1)
            place = Bar(
                x=round(left + offset, 1),
                y=round(plot - height, 1),
                height=height,
                width=round(bar - 1, 1),
                value=value,
            )
            setattr(d, attr, place)
        d.label_x = round(left + bar, 1)
    return days
