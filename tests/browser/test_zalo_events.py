"""The Zalo Events list in a real browser: a granted user finds failures and recovers
them; a staff user who was not granted the list neither sees nor reaches it."""

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client

from tests.helpers import fixture, post_webhook
from zalohub.core.roles import CS_AGENT, ZALO_ADMIN, ZALO_EVENTS
from zalohub.events.models import ProcessingState, ZaloEvent, ZaloState
from zalohub.events.outbound.oa_message import message_send
from zalohub.events.processing.queue import drain
from zalohub.sandbox.world import OA_SUPPORT_ID, SON_SUPPORT_USER_ID

# An OA of the app that is never authorized here: its events stay in Error (an event
# for an OA that gets authorized is processed by itself then, issue 16).
UNAUTHORIZED_OA_ID = "4310500000000000099"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


def _person(username: str, *groups: str) -> User:
    user = User.objects.create_user(username, password=f"pw-{username}", is_staff=True)
    user.groups.set(Group.objects.filter(name__in=groups))
    return user


def _run_worker_tasks() -> None:
    """What a worker does with the queued sends: run every task that is due, then stop."""
    call_command(
        "db_worker", queue_name="*", batch=True, reload=False, startup_delay=False, verbosity=0
    )


def _state(page, kind: str) -> str:
    return page.locator(f".field-{kind}_state_badge .zh-badge").inner_text()


def _open_row(page, event: ZaloEvent) -> None:
    page.locator(f"#result_list a[href*='/zaloevent/{event.pk}/change/']").first.click()
    page.wait_for_selector(".field-processing_state_badge")


def test_it_lets_a_granted_user_find_and_recover_failed_events(
    page, live_server, sandbox, zalo_app, output_dir, request
):
    # A customer writes to an OA of the app that is not authorized: processing fails.
    raw = fixture("user_send_text__official").replace(OA_SUPPORT_ID, UNAUTHORIZED_OA_ID)
    assert post_webhook(Client(), zalo_app.app_id, raw, key=zalo_app.oa_secret_key).status_code
    drain()
    errored = ZaloEvent.objects.get(event_name="user_send_text")
    assert errored.processing_state == ProcessingState.ERROR
    # Another OA gets connected; a reply is refused by Zalo once, so its delivery fails.
    oa = request.getfixturevalue("connected_oa")
    sandbox.add_fault("oa.message.cs", "zalo_error", code=-230, times=1)
    message = message_send(oa=oa, user_id=SON_SUPPORT_USER_ID, text="Báo giá tháng 11")
    _run_worker_tasks()
    failed = ZaloEvent.objects.get(message=message)
    message.refresh_from_db()
    assert message.zalo_state == ZaloState.FAILED

    _person("it-admin", ZALO_ADMIN, ZALO_EVENTS)
    _login(page, live_server, "it-admin")
    # It should show the granted user a Zalo Events entry leading to the list.
    entry = page.locator("#content-main a[href$='/admin/events/zaloevent/']").first
    assert entry.inner_text() == "Zalo Events"
    entry.click()
    page.wait_for_selector("#result_list")
    headers = page.locator("#result_list thead").text_content()
    assert "Processing State" in headers and "Zalo State" in headers
    assert "Customer" in headers and "Official account" in headers
    assert page.locator("#result_list tbody tr").count() == 2
    # Both states are on screen, not behind the table's horizontal scroll.
    for column in ("processing_state_badge", "zalo_state_badge"):
        assert page.locator(f"th.column-{column}").first.is_visible()
        box = page.locator(f"th.column-{column}").bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1280
    page.screenshot(path=str(output_dir / "zalo-events-list.png"), full_page=True)

    # It should narrow the list with the quick filters.
    page.click("#quick-errors")
    page.wait_for_selector("#quick-errors.selected")
    assert page.locator("#result_list tbody tr").count() == 2
    page.screenshot(path=str(output_dir / "zalo-events-errors.png"), full_page=True)
    page.click("#quick-failed")
    page.wait_for_selector("#quick-failed.selected")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1 and "Failed" in rows.first.inner_text()
    page.screenshot(path=str(output_dir / "zalo-events-failed-deliveries.png"), full_page=True)

    # It should process the errored event again from its raw payload on Retry Processing.
    page.click("#quick-errors")
    page.wait_for_selector("#quick-errors.selected")
    _open_row(page, errored)
    assert _state(page, "processing") == "Error"
    assert "not connected" in page.locator("div.form-row.field-error_text").inner_text()
    assert "Xin chào, tôi cần báo giá" in page.locator("#raw-payload").inner_text()
    page.screenshot(path=str(output_dir / "zalo-event-error.png"), full_page=True)
    page.click("#btn-retry")
    page.wait_for_selector(".messagelist")
    assert "queued for processing again" in page.locator(".messagelist").inner_text()
    assert _state(page, "processing") == "Queued"
    drain()  # the worker's dispatcher
    errored.refresh_from_db()
    # Its OA is still not connected: processed again from its payload, it fails again,
    # with one more attempt and the same explanation.
    assert errored.processing_state == ProcessingState.ERROR
    assert errored.attempts == 2
    page.reload()
    assert _state(page, "processing") == "Error"
    assert "not connected" in page.locator("div.form-row.field-error_text").inner_text()
    page.screenshot(path=str(output_dir / "zalo-event-retried.png"), full_page=True)

    # It should show the failed message with its attempt and the API logs of its call.
    page.goto(f"{live_server.url}/admin/events/zaloevent/")
    page.click("#quick-failed")
    page.wait_for_selector("#quick-failed.selected")
    _open_row(page, failed)
    assert _state(page, "zalo") == "Failed" and _state(page, "processing") == "Error"
    assert "Failed" in page.locator("#attempt_log-group").inner_text()
    assert "oa.message.cs" in page.locator("#linked-api-logs").inner_text()
    page.screenshot(path=str(output_dir / "zalo-event-failed-send.png"), full_page=True)
    page.click("#btn-api-logs")
    page.wait_for_selector("#result_list")
    api_rows = page.locator("#result_list tbody tr")
    assert api_rows.count() == 1 and "oa.message.cs" in api_rows.first.inner_text()
    page.screenshot(path=str(output_dir / "zalo-event-api-logs.png"), full_page=True)
    page.go_back()

    # It should queue a new attempt on Resend, which the worker delivers to Zalo.
    page.wait_for_selector("#btn-resend")
    page.click("#btn-resend")
    page.wait_for_selector(".messagelist")
    resent = ZaloEvent.objects.exclude(pk=failed.pk).get(message=message)
    assert page.url.endswith(f"/admin/events/zaloevent/{resent.pk}/change/")
    assert _state(page, "zalo") == "On Queue"
    _run_worker_tasks()
    page.reload()
    assert _state(page, "zalo") == "Sent" and _state(page, "processing") == "Processed"
    assert f"oa_send_text #{failed.pk}" in page.locator("#related-events").inner_text()
    page.screenshot(path=str(output_dir / "zalo-event-resent.png"), full_page=True)

    # No delivery receipt ever comes: the admin marks it as an error, with a reason.
    page.click("#btn-mark-error")
    page.fill("#reason", "Khách chưa nhận được sau 2 ngày")
    page.screenshot(path=str(output_dir / "zalo-event-mark-error-form.png"), full_page=True)
    page.click("#confirm-mark-error")
    page.wait_for_selector(".messagelist")
    assert "marked as error" in page.locator(".messagelist").inner_text()
    assert _state(page, "zalo") == "Failed" and _state(page, "processing") == "Error"
    error = page.locator("div.form-row.field-error_text").inner_text()
    assert "Khách chưa nhận được sau 2 ngày" in error
    assert page.locator("#btn-resend").count() == 1
    page.screenshot(path=str(output_dir / "zalo-event-marked-error.png"), full_page=True)
    message.refresh_from_db()
    assert message.zalo_state == ZaloState.FAILED


def test_it_hides_the_list_from_staff_not_granted(browser, page, live_server, zalo_app, output_dir):
    raw = fixture("user_send_text__official")
    post_webhook(Client(), zalo_app.app_id, raw, key=zalo_app.oa_secret_key)
    event = ZaloEvent.objects.get()
    for username, groups in (("it-only", [ZALO_ADMIN]), ("cs-agent", [CS_AGENT]), ("staff", [])):
        _person(username, *groups)
        context = browser.new_context(locale="en-US")
        other = context.new_page()
        _login(other, live_server, username)
        # It should show no Zalo Events entry...
        assert "Zalo Events" not in other.locator("#content-main").inner_text()
        other.screenshot(path=str(output_dir / f"zalo-events-hidden-{username}.png"))
        # ...and refuse the list, the event and its buttons.
        for url in (
            "/admin/events/zaloevent/",
            f"/admin/events/zaloevent/{event.pk}/change/",
            f"/admin/events/zaloevent/{event.pk}/do/mark_error/",
        ):
            response = other.goto(f"{live_server.url}{url}")
            assert response.status == 403, (username, url, response.status)
        other.screenshot(path=str(output_dir / f"zalo-events-refused-{username}.png"))
        context.close()


def test_the_errors_list_fits_1400_px_with_unlinked_customers(admin_page, zalo_app):
    # Customers of an OA that is not authorized write: their events wait in Error, each
    # shown with the customer's bare Zalo user id (no partner link yet).
    for name in (
        "user_submit_info__current",
        "user_send_location__basic",
        "user_send_text__official",
    ):
        raw = fixture(name).replace(OA_SUPPORT_ID, UNAUTHORIZED_OA_ID)
        assert post_webhook(Client(), zalo_app.app_id, raw, key=zalo_app.oa_secret_key).status_code
    drain()
    assert ZaloEvent.objects.filter(processing_state=ProcessingState.ERROR).count() == 3
    page = admin_page("en")
    page.goto(page.url.split("/admin/")[0] + "/admin/events/zaloevent/?quick=errors")
    page.wait_for_selector("#result_list tbody tr")
    # It should show every column, the Error one included, without a horizontal scroll.
    width, scrolled = page.evaluate(
        "() => { const r = document.querySelector('#changelist-form .results');"
        " return [r.clientWidth, r.scrollWidth]; }"
    )
    assert scrolled <= width


@pytest.mark.parametrize("language", ["en", "vi"])
def test_an_api_send_marked_error_before_a_worker_took_it_is_retried_and_sent(
    admin_page, connected_oa, sandbox, output_dir, language
):
    """An API send is accepted as its event alone; no worker runs yet. An admin marks it
    Error, then Retry Processing gives it back to the sends loop, which sends it."""
    from django.utils import translation

    from zalohub.api.keys import key_create
    from zalohub.api.models import Capability
    from zalohub.events.outbound import queued

    _key, raw = key_create(
        name="ERP", oas=[connected_oa], capabilities=Capability.values, rate_limit_per_minute=60
    )
    body = {"oa": connected_oa.pk, "to": {"user_id": SON_SUPPORT_USER_ID}, "text": "Báo giá"}
    answer = Client().post(
        "/api/v1/messages",
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert answer.status_code == 202
    event = ZaloEvent.objects.get(pk=answer.json()["event_id"])

    def label(state) -> str:  # type: ignore[no-untyped-def]
        with translation.override(language):
            return str(state.label)

    page = admin_page(language)
    page.goto(page.url.split("/admin/")[0] + f"/admin/events/zaloevent/{event.pk}/change/")
    assert _state(page, "processing") == label(ProcessingState.RECEIVED)
    page.click("#btn-mark-error")
    page.fill("#reason", "Worker dừng từ sáng")
    page.click("#confirm-mark-error")
    page.wait_for_selector(".messagelist")
    assert _state(page, "processing") == label(ProcessingState.ERROR)
    # It should offer Retry Processing, there being no message to Resend yet...
    assert page.locator("#btn-resend").count() == 0
    page.click("#btn-retry")
    page.wait_for_selector(".messagelist")
    assert _state(page, "processing") == label(ProcessingState.RECEIVED)
    assert page.locator("#btn-retry").count() == 0
    page.screenshot(path=str(output_dir / f"zalo-event-api-send-retried-{language}.png"))
    # ...and the sends loop then makes its message and sends it to Zalo.
    assert queued.send_due("retry-test") == 2  # queued, then sent
    page.reload()
    assert _state(page, "processing") == label(ProcessingState.PROCESSED)
    assert _state(page, "zalo") == label(ZaloState.SENT)
    page.screenshot(
        path=str(output_dir / f"zalo-event-api-send-sent-{language}.png"), full_page=True
    )
