"""At 1400 px, no admin list cuts off a column: every column header of every changelist
lies inside the window and inside the list's own box (Django scrolls an over-wide
table inside it, so a header past its edge is a column nobody sees). Long texts are cut
with an ellipsis and shown whole on hover instead. Screenshots in English and
Vietnamese."""

import httpx
import pytest
from django.contrib import admin
from django.urls import reverse

from zalohub.events.outbound.oa_message import message_send, send_outbound
from zalohub.events.processing.queue import drain
from zalohub.sandbox import customers
from zalohub.sandbox.world import OA_SUPPORT_ID, SON_SUPPORT_USER_ID
from zalohub.zbs.models import Template

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTH = 1400
MAI = "5830174629118340317"
LONG = (
    "Chị Mai hỏi về chính sách bảo hành máy lọc nước RO 10 lõi, giao hàng tận nơi ở "
    "Thủ Đức và trả góp 0% qua thẻ tín dụng trong 12 tháng, cần gọi lại trước 17 giờ"
)

# Where each header is, and the box it must stay in (the window, and the list's own).
HEADERS_JS = """() => {
  const box = document.querySelector('#changelist-form .results, .results');
  const limit = Math.min(window.innerWidth, box ? box.getBoundingClientRect().right : 1e9);
  return {
    limit: limit,
    page: document.documentElement.scrollWidth,
    headers: Array.from(document.querySelectorAll('#result_list thead th')).map((th) => {
      const r = th.getBoundingClientRect();
      return [th.className || th.innerText.trim(), r.left, r.right];
    }),
  };
}"""


def _demo_like(sandbox, live_server, oa) -> None:
    """What the demo holds after a walk: customers wrote (19-digit ids, long texts), a
    send failed with Zalo's long explanation, a ZBS template, a forged webhook refused."""
    customers.configure_webhooks(sandbox, hub=live_server.url, receipt_delay=None)
    for user_id, text in ((SON_SUPPORT_USER_ID, "Xin chào shop"), (MAI, LONG)):
        customers.customer_send_message(sandbox, oa_id=OA_SUPPORT_ID, user_id=user_id, text=text)
    assert sandbox.webhooks.wait_idle(10)
    drain()
    sandbox.add_fault("oa.message", "zalo_error", code=-230, times=1)
    message = message_send(oa=oa, user_id=MAI, text=LONG)
    assert send_outbound(event_id=message.events.get().pk, worker_id="test") == "failed"
    Template.objects.create(oa=oa, name="Xác nhận đơn hàng và lịch giao hàng tận nơi", body=LONG)
    # A refused request: its reason is the longest text of its list.
    httpx.post(
        f"{live_server.url}/zalo/webhook/{oa.app.app_id}/",
        content=b'{"event_name": "user_send_text", "app_id": "' + b"9" * 40 + b'"}',
        headers={"X-ZEvent-Signature": "mac=" + "0" * 64},
        timeout=5,
    )


def _changelists() -> list[str]:
    return sorted(
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
        if model._meta.app_label not in ("auth",)
    )


@pytest.mark.parametrize("language", ["en", "vi"])
def test_it_keeps_every_column_of_every_list_inside_1400_px(
    admin_page, live_server, sandbox, connected_oa, language, output_dir
):
    _demo_like(sandbox, live_server, connected_oa)
    page = admin_page(language, superuser=True)  # the demo's admin: every list in the menu
    shots = output_dir / "layout"
    shots.mkdir(exist_ok=True)
    cut = {}
    checked = 0
    for url in _changelists():
        response = page.goto(live_server.url + url)
        assert response is not None and response.status == 200, url
        found = page.evaluate(HEADERS_JS)
        name = url.strip("/").replace("/", "-")
        page.screenshot(path=str(shots / f"{name}-{language}-{WIDTH}.png"))
        # It should fit the page in the window (no sideways scrolling)...
        if found["page"] > WIDTH:
            cut[url] = f"page is {found['page']} px wide"
        # ...and every header inside the list's box.
        outside = [h[0] for h in found["headers"] if h[2] > found["limit"] + 1]
        if outside:
            widths = [(h[0].split()[-1], round(h[2] - h[1])) for h in found["headers"]]
            cut[url] = f"cut off at {found['limit']:.0f} px: {outside} {widths}"
        checked += bool(found["headers"])
    assert not cut, "\n".join(f"{url}: {why}" for url, why in cut.items())
    assert checked >= 10  # the lists above had rows to show, not just empty pages
