"""Outbound failures of the last 24 h by category, error kind and Zalo code; Zalo storms."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings

# Texts are stored untranslated and rendered per reader (text.py): _ only marks them.
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_noop as _

from zalohub.accounts import holds
from zalohub.accounts.models import OfficialAccount
from zalohub.apilog.models import ApiLog
from zalohub.diagnostics.categories import Category, category_for_event, next_step
from zalohub.diagnostics.checks import CheckResult, Evidence, Fact, links, when
from zalohub.diagnostics.models import Level
from zalohub.diagnostics.registry import Inputs, register_check
from zalohub.diagnostics.text import msg
from zalohub.events.models import PENDING, Direction, ProcessingState, ZaloEvent, ZaloState
from zalohub.zalo import errors
from zalohub.zalo.errors import KIND_LABELS, ErrorKind, classify

WINDOW = timedelta(hours=24)
STORM_SAMPLE = 20  # the OA's most recent calls looked at for a storm
MAX_ROWS = 5000


@dataclass
class FailureTally:
    total_sent: int = 0
    by_category: dict[str, Counter] = field(default_factory=dict)  # category -> (kind, code)
    latest_code: dict[str, int | None] = field(default_factory=dict)

    def count(self, category: str) -> int:
        return sum(self.by_category.get(category, Counter()).values())


def failure_tally(*, oa: OfficialAccount, now: datetime) -> FailureTally:
    """Outbound messages still Failed whose latest failure is from the last 24 h, each
    counted once under the category its Zalo code (or our own state) gives it."""
    since = now - WINDOW
    outbound = ZaloEvent.objects.filter(oa=oa, direction=Direction.OUTBOUND)
    tally = FailureTally(
        total_sent=outbound.filter(received_at__gte=since).values("message_id").distinct().count()
    )
    failed = (
        outbound.filter(
            processing_state=ProcessingState.ERROR,
            error_at__gte=since,
            message__zalo_state=ZaloState.FAILED,
        )
        .select_related("message")
        .order_by("-error_at", "-id")[:MAX_ROWS]
    )
    seen: set[int | None] = set()
    for event in failed:
        key = event.message_id
        if key in seen:
            continue
        seen.add(key)
        category = category_for_event(event) or Category.SEND
        code = event.message.failure_code if event.message else None
        kind = classify(code).value if code else ""
        tally.by_category.setdefault(category, Counter())[(kind, code)] += 1
        tally.latest_code.setdefault(category, code)
    return tally


def _rows(counter: Counter) -> list[Fact]:
    rows: list[Fact] = []
    for (kind, code), n in counter.most_common():
        name = (
            msg(_("Zalo code %(code)s (%(kind)s)"), code=code, kind=KIND_LABELS[ErrorKind(kind)])
            if code
            else msg(_("no Zalo code (our own state)"))
        )
        rows.append((name, str(n)))
    return rows


def failure_level(n: int, total: int) -> str:
    if n == 0:
        return Level.GREEN
    rate = n / max(total, n)
    if (
        n >= settings.DIAGNOSTICS_SEND_FAILURE_MIN
        and rate >= settings.DIAGNOSTICS_SEND_FAILURE_RATE
    ):
        return Level.RED
    return Level.AMBER


def storm(*, oa: OfficialAccount, now: datetime) -> tuple[int, int, bool]:
    """(failed retryable calls, calls looked at, latest call failed that way) in the last hour."""
    recent = list(
        ApiLog.objects.filter(oa=oa, created_at__gte=now - timedelta(hours=1))
        .order_by("-created_at", "-id")
        .values_list("error_kind", flat=True)[:STORM_SAMPLE]
    )
    failed = sum(1 for kind in recent if kind == "retryable")
    return failed, len(recent), bool(recent) and recent[0] == "retryable"


def category_result(
    *,
    key: str,
    title: str,
    category: str,
    oa: OfficialAccount,
    tally: FailureTally,
    now: datetime,
    what: str,
) -> CheckResult:
    n = tally.count(category)
    level = failure_level(n, tally.total_sent)
    since = now - WINDOW
    summary = (
        msg(
            _("%(n)d of %(total)d outbound message(s) failed in 24 h: %(what)s."),
            n=n,
            total=max(tally.total_sent, n),
            what=what,
        )
        if n
        else msg(_("No such failure in the last 24 h."))
    )
    return CheckResult(
        key=key,
        title=title,
        level=level,
        summary=summary,
        category=category if n else "",
        next_step=next_step(category, tally.latest_code.get(category)) if n else "",
        facts=[
            (msg(_("Outbound messages (24 h)")), str(tally.total_sent)),
            *_rows(tally.by_category.get(category, Counter())),
        ],
        evidence=[
            Evidence(
                msg(_("Failed deliveries (24 h)")),
                links.events(oa, quick="failed", error_at__gte=since),
                n,
            )
        ],
    )


def check_sends(*, oa: OfficialAccount, now: datetime, tally: FailureTally) -> CheckResult:
    result = category_result(
        key="sends",
        title=msg(_("Send failures")),
        category=Category.SEND,
        oa=oa,
        tally=tally,
        now=now,
        what=msg(_("Zalo State = Failed")),
    )
    failed, looked, latest_failed = storm(oa=oa, now=now)
    hour_ago = now - timedelta(hours=1)
    result.facts.append(
        (msg(_("Zalo unavailable (5xx, timeouts, 429) in the last hour")), str(failed))
    )
    result.evidence.append(
        Evidence(
            msg(_("Failed Zalo calls (1 h)")),
            links.api_logs(oa, ok__exact=0, created_at__gte=hour_ago),
            failed,
        )
    )
    if failed >= settings.DIAGNOSTICS_API_ERROR_MIN and failed * 2 >= looked and latest_failed:
        result.level = Level.RED
        result.summary = msg(
            _(
                "Zalo is failing: %(failed)d of the OA's last %(looked)d calls got a server "
                "error, a timeout or “too many requests”. Sends wait and retry on their own."
            ),
            failed=failed,
            looked=looked,
        )
        result.category = Category.SEND
        result.next_step = next_step(Category.SEND)
    elif failed and result.level == Level.GREEN:
        result.level = Level.AMBER
        result.summary = msg(
            _("%d call(s) to Zalo failed in the last hour and were retried."), failed
        )
    if holds.is_held(oa):
        _held(result, oa)
    return result


def _held(result: CheckResult, oa: OfficialAccount) -> None:
    """Zalo answered a code about the OA itself (-227): red, whatever else is true, with
    the code's own explanation, category and next step."""
    code = oa.sends_held_code
    waiting = ZaloEvent.objects.filter(
        oa=oa, direction=Direction.OUTBOUND, processing_state__in=PENDING
    ).count()
    result.level = Level.RED
    result.category = errors.category(code)
    result.summary = msg(
        _(
            "Zalo answered %(code)s for this OA (%(explanation)s). Its sends are held: "
            "%(waiting)d message(s) wait, and go once Zalo accepts the OA's sends again."
        ),
        code=code,
        explanation=errors.EXPLANATIONS.get(code or 0) or "—",
        waiting=waiting,
    )
    result.next_step = next_step(result.category, code)
    result.facts.append((msg(_("Sends held since")), when(oa.sends_held_since)))
    result.facts.append((msg(_("Next try after")), when(oa.sends_held_until)))
    result.evidence.append(
        Evidence(
            msg(_("Held sends")),
            links.events(oa, direction__exact=Direction.OUTBOUND, processing_state__exact="queued"),
            waiting,
        )
    )


def check_recipients(*, oa: OfficialAccount, now: datetime, tally: FailureTally) -> CheckResult:
    return category_result(
        key="recipients",
        title=msg(_("Recipients")),
        category=Category.RECIPIENT,
        oa=oa,
        tally=tally,
        now=now,
        what=msg(_("no valid phone or no Zalo link")),
    )


@register_check("sends", title=gettext_lazy("Send failures"), position=40)
def run_sends(inputs: Inputs) -> CheckResult:
    return check_sends(oa=inputs.oa, now=inputs.now, tally=inputs.tally)


@register_check("recipients", title=gettext_lazy("Recipients"), position=60)
def run_recipients(inputs: Inputs) -> CheckResult:
    return check_recipients(oa=inputs.oa, now=inputs.now, tally=inputs.tally)
