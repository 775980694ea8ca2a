"""Every SVG chart draws its bars in Vietnamese as in English: the OA health trend and
the ZBS dashboard's quota, sends and failure-reason charts. Vietnamese writes decimals
with a comma, and an SVG coordinate such as x="3,0" is no number: the browser drew
nothing. Each test counts the bars the browser actually lays out."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.helpers import on_one_day
from zalohub.events.models import Direction, ErrorCategory, Message, ZaloEvent, ZaloState
from zalohub.sandbox.world import SON_SUPPORT_USER_ID
from zalohub.zbs.models import Template, TemplateSend
from zalohub.zbs.services import oa_settings

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The sizes each bar has as laid out: [class, width, height] for every <rect>.
BARS_JS = """(selector) => Array.from(document.querySelectorAll(selector + ' rect')).map(
  (r) => { const b = r.getBBox(); return [r.getAttribute('class'), b.width, b.height]; })"""


def _event(oa, n: int, *, when, error: bool = False) -> ZaloEvent:
    return ZaloEvent.objects.create(
        app=oa.app,
        oa=oa,
        direction=Direction.INBOUND,
        event_name="user_send_text",
        dedupe_key=f"chart-{n}",
        raw_body="{}",
        received_at=when,
        zalo_user_id=SON_SUPPORT_USER_ID,
        processing_state="error" if error else "processed",
        error_category=ErrorCategory.SEND if error else "",
        error_at=when if error else None,
    )


@pytest.mark.parametrize("language", ["en", "vi"])
def test_it_draws_the_health_trend_in_every_language(
    admin_page, connected_oa, language, output_dir
):
    # Events on three of the last seven days (5, 2, 7), failures on two of them; each
    # day's minutes on that one local day.
    now = on_one_day(timedelta(minutes=10))
    n = 0
    for days_ago, events, failures in ((0, 5, 1), (2, 2, 0), (4, 7, 3)):
        for i in range(events):
            n += 1
            when = now - timedelta(days=days_ago, minutes=i)
            _event(connected_oa, n, when=when, error=i < failures)
    page = admin_page(language)
    page.goto(page.url.split("/admin/")[0] + "/admin/diagnostics/healthsnapshot/")
    chart = f"#oa-{connected_oa.pk} svg.dx-chart"
    bars = page.evaluate(BARS_JS, chart)
    # It should lay out one event bar and one failure bar per day, each with a width...
    assert len(bars) == 14
    assert all(width > 0 for _cls, width, _h in bars), bars
    # ...and as many visible bars as days with events (3) and with failures (2).
    assert sum(1 for cls, _w, h in bars if cls == "ev" and h > 0) == 3
    assert sum(1 for cls, _w, h in bars if cls == "fl" and h > 0) == 2
    page.locator(f"#oa-{connected_oa.pk}").screenshot(
        path=str(output_dir / f"chart-health-{language}-1400.png")
    )


def _send(oa, template: Template, n: int, *, when, failed: bool, code: int | None) -> None:
    message = Message.objects.create(
        oa=oa,
        direction=Direction.OUTBOUND,
        zalo_user_id=SON_SUPPORT_USER_ID,
        kind=Message.Kind.TEMPLATE,
        zalo_state=ZaloState.FAILED if failed else ZaloState.SENT,
        failure_code=code,
        created_at=when,
    )
    TemplateSend.objects.create(
        template=template,
        oa=oa,
        message=message,
        route_policy="uid",
        user_id=SON_SUPPORT_USER_ID,
        tracking_id=f"chart-{n}",
        created_at=when,
    )


@pytest.mark.parametrize("language", ["en", "vi"])
def test_it_draws_the_zbs_quota_sends_and_reasons_charts_in_every_language(
    admin_page, connected_oa, language, output_dir
):
    oa = connected_oa
    settings = oa_settings(oa)
    settings.daily_quota, settings.remaining_quota = 500, 380
    settings.save()
    template = Template.objects.create(oa=oa, name="Xác nhận đơn hàng", body="Đơn <order_code>")
    now = timezone.now()
    # Sends on four days; failures for two reasons (Zalo errors -124 and -1124).
    plan = [(0, False, None), (0, True, -124), (3, False, None), (7, False, None)]
    plan += [(7, True, -1124), (7, True, -1124), (12, False, None)]
    for n, (days_ago, failed, code) in enumerate(plan):
        _send(oa, template, n, when=now - timedelta(days=days_ago), failed=failed, code=code)
    page = admin_page(language)
    page.goto(page.url.split("/admin/")[0] + f"/admin/zbs/template/oa/{oa.pk}/dashboard/")

    # It should draw the quota used (120 of 500) as a bar inside its track.
    quota = page.evaluate(BARS_JS, "#zbs-quota-chart")
    assert [cls for cls, _w, _h in quota] == ["zbs-axis-bg", "zbs-used"]
    assert all(w > 0 and h > 0 for _cls, w, h in quota), quota
    assert quota[1][1] == pytest.approx(quota[0][1] * 120 / 500, rel=0.02)
    # It should draw a sent and a failed bar per day, visible on the days that had them.
    sends = page.evaluate(BARS_JS, "#zbs-sends-chart")
    assert len(sends) == 60 and all(w > 0 for _cls, w, _h in sends), sends
    assert sum(1 for cls, _w, h in sends if cls == "zbs-ok" and h > 0) == 4
    assert sum(1 for cls, _w, h in sends if cls == "zbs-bad" and h > 0) == 2
    # It should draw one bar per failure reason.
    reasons = page.evaluate(BARS_JS, "#zbs-reasons-chart")
    assert len(reasons) == 2 and all(w > 0 and h > 0 for _cls, w, h in reasons), reasons
    page.screenshot(path=str(output_dir / f"chart-zbs-{language}-1400.png"), full_page=True)
