"""The Zalo Events list in the admin: who sees it, its columns, filters, form and actions.

Data comes through the real paths: signed webhooks posted to the hub, messages queued
with ``message_send`` and sent by the worker's ``send_outbound`` against the sandbox.
"""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from tests.helpers import fixture, post_webhook
from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.apilog.models import ApiLog
from zalohub.core.roles import ZALO_EVENTS
from zalohub.events.models import (
    Direction,
    ErrorCategory,
    Message,
    ProcessingState,
    ZaloEvent,
    ZaloState,
)
from zalohub.events.outbound.oa_message import message_send, send_outbound
from zalohub.events.processing.queue import drain
from zalohub.sandbox.state import SandboxState
from zalohub.sandbox.world import OA_SUPPORT_ID, SON_SUPPORT_USER_ID

pytestmark = pytest.mark.django_db
CUSTOMER = "7800000000000000101"  # the sender of the webhook fixtures
LIST = "/admin/events/zaloevent/"


def _url(event: ZaloEvent, action: str = "") -> str:
    if action:
        return reverse("admin:events_zaloevent_button", args=[event.pk, action])
    return reverse("admin:events_zaloevent_change", args=[event.pk])


def _login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _grant_events(user: User) -> User:
    user.groups.add(Group.objects.get(name=ZALO_EVENTS))
    return User.objects.get(pk=user.pk)  # a fresh object: no cached permissions


@pytest.fixture
def it_admin(admin: User) -> User:
    """A Zalo Admin who was also granted the Zalo Events list (sees API logs too)."""
    return _grant_events(admin)


def _inbound(app: ZaloApp, name: str = "user_send_text__official", **replace: str) -> ZaloEvent:
    raw = fixture(name, **replace)
    response = post_webhook(Client(), app.app_id, raw, key=app.oa_secret_key)
    assert response.status_code == 200, response.content
    return ZaloEvent.objects.order_by("-id").first()


def _errored_inbound(app: ZaloApp, **replace: str) -> ZaloEvent:
    """A customer's message that arrived before its OA was authorized: Error (until the
    OA is authorized: then it is processed by itself)."""
    event = _inbound(app, **replace)
    drain()
    event.refresh_from_db()
    assert event.processing_state == ProcessingState.ERROR
    return event


def _send(oa: OfficialAccount, text: str = "Báo giá", user_id: str = SON_SUPPORT_USER_ID):
    message = message_send(oa=oa, user_id=user_id, text=text)
    event = message.events.get()
    result = send_outbound(event_id=event.pk, worker_id="test-worker")
    event.refresh_from_db()
    message.refresh_from_db()
    return result, message, event


def _failed_send(sandbox: SandboxState, oa: OfficialAccount) -> tuple[Message, ZaloEvent]:
    # Zalo refuses the message once (the user cannot be reached right now).
    sandbox.add_fault("oa.message.cs", "zalo_error", code=-230, times=1)
    result, message, event = _send(oa)
    assert result == "failed"
    assert message.zalo_state == ZaloState.FAILED
    return message, event


def _rows(response) -> list[int]:
    return [event.pk for event in response.context["cl"].result_list]


# --- who sees it ---------------------------------------------------------------------


def test_it_shows_the_list_and_its_menu_entry_only_to_granted_users(
    zalo_app, admin, agent, auditor, outsider
):
    event = _inbound(zalo_app)
    # It should show the menu entry and the list to a user granted Zalo Events.
    for user in (auditor, _grant_events(User.objects.create_user("both", is_staff=True))):
        client = _login(user)
        assert "Zalo Events" in client.get("/admin/").content.decode()
        assert client.get(LIST).status_code == 200
        assert client.get(_url(event)).status_code == 200
    # It should hide both from everyone else, a Zalo Admin included (Admin grants it).
    for user in (admin, agent, outsider):
        client = _login(user)
        assert "Zalo Events" not in client.get("/admin/").content.decode()
        assert client.get(LIST).status_code == 403
        assert client.get(_url(event)).status_code == 403
        assert client.get("/admin/events/").status_code == 404
    # It should send an anonymous visitor to the login page.
    response = Client().get(LIST)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_it_refuses_the_buttons_to_users_not_granted(zalo_app, admin, agent, outsider):
    event = _errored_inbound(zalo_app)
    for user in (admin, agent, outsider):
        client = _login(user)
        # It should refuse every action, and not even show the Mark Error page.
        for action in ("retry_processing", "resend", "mark_error"):
            assert client.post(_url(event, action), {"reason": "x"}).status_code == 403
        assert client.get(_url(event, "mark_error")).status_code == 403
        response = client.post(LIST, {"action": "retry_processing", "_selected_action": event.pk})
        assert response.status_code == 403
    event.refresh_from_db()
    assert event.processing_state == ProcessingState.ERROR


def test_it_never_shows_api_logs_or_tokens_to_an_agent(connected_oa, agent):
    client = _login(agent)
    assert client.get("/admin/apilog/apilog/").status_code == 403
    assert client.get(f"/admin/accounts/officialaccount/{connected_oa.pk}/change/").status_code in (
        403,
        404,
    )
    index = client.get("/admin/").content.decode()
    assert "API logs" not in index and "Zalo Events" not in index


# --- the list --------------------------------------------------------------------------


def test_it_lists_both_states_the_oa_the_customer_the_event_and_the_time(
    sandbox, zalo_app, connected_oa, auditor
):
    _inbound(zalo_app)
    drain()
    _failed_send(sandbox, connected_oa)
    page = _login(auditor).get(LIST).content.decode()
    # It should show every column the guide names, with readable state badges.
    for header in ("Processing State", "Zalo State", "Official account", "Customer", "Event"):
        assert header in page, header
    assert "Time" in page
    assert 'class="zh-badge zh-ps-processed">Processed<' in page
    assert 'class="zh-badge zh-ps-error">Error<' in page
    assert 'class="zh-badge zh-zs-failed">Failed<' in page
    assert "user_send_text" in page and "oa_send_text" in page
    assert f"?customer={CUSTOMER}" in page and "Support OA" in page


def test_it_quick_filters_errors_and_failed_deliveries(sandbox, zalo_app, auditor, request):
    # An OA of the app that is never authorized: its event stays an error.
    errored = _errored_inbound(zalo_app, **{OA_SUPPORT_ID: "4310500000000000099"})
    oa = request.getfixturevalue("connected_oa")
    processed = _inbound(zalo_app, "user_send_text__quote_reply")
    drain()
    _, failed = _failed_send(sandbox, oa)
    _, _, sent = _send(oa, text="Cảm ơn anh")
    client = _login(auditor)
    page = client.get(LIST)
    assert set(_rows(page)) == {errored.pk, processed.pk, failed.pk, sent.pk}
    # It should offer both quick filters above the list.
    html = page.content.decode()
    assert 'id="quick-errors"' in html and 'id="quick-failed"' in html
    assert ">Errors<" in html and ">Failed Deliveries<" in html
    # It should keep processing errors (either way) under Errors...
    assert set(_rows(client.get(LIST, {"quick": "errors"}))) == {errored.pk, failed.pk}
    # ...and what Zalo refused to deliver under Failed Deliveries.
    assert _rows(client.get(LIST, {"quick": "failed"})) == [failed.pk]


def test_it_filters_by_oa_and_by_customer(sandbox, zalo_app, connected_oa, auditor):
    mine = _inbound(zalo_app)
    other = _inbound(
        zalo_app, **{CUSTOMER: "7800000000000000202", "96d3cdf3af150460909": "other-msg"}
    )
    _, _, sent = _send(connected_oa)
    client = _login(auditor)
    # It should narrow the list to one customer, from the box or a customer's link.
    assert _rows(client.get(LIST, {"customer": CUSTOMER})) == [mine.pk]
    assert _rows(client.get(LIST, {"customer": SON_SUPPORT_USER_ID})) == [sent.pk]
    page = client.get(LIST).content.decode()
    assert 'id="customer-filter-input"' in page
    # It should narrow the list to one OA, or to the events of no OA it knows (in words).
    oa_rows = _rows(client.get(LIST, {"oa__id__exact": connected_oa.pk}))
    assert set(oa_rows) == {mine.pk, other.pk, sent.pk}
    ZaloEvent.objects.filter(pk=other.pk).update(oa=None)
    assert _rows(client.get(LIST, {"oa__isnull": "True"})) == [other.pk]
    oa_filter = page.split("By official account", 1)[1].split("</ul>", 1)[0]
    assert '<a href="?oa__isnull=True">No known OA</a>' in oa_filter
    # It should combine the filters.
    both = {"oa__id__exact": connected_oa.pk, "customer": CUSTOMER, "quick": "errors"}
    assert _rows(client.get(LIST, both)) == []


def test_one_customer_is_one_choice_and_one_filter_across_oas(zalo_app, connected_oa, auditor):
    from django.utils import timezone

    from zalohub.partners.models import LinkMethod, Partner, ZaloPartnerLink

    sales = OfficialAccount.objects.create(app=zalo_app, name="Sales", oa_id="4310500000000000077")
    mai = Partner.objects.create(name="Trần Thị Mai", is_shadow=False)
    # Each OA gives Mai another Zalo user id; a stranger wrote to the Support OA too.
    ids = {connected_oa: "7800000000000000301", sales: "7800000000000000302"}
    for oa, user_id in ids.items():
        ZaloPartnerLink.objects.create(
            partner=mai, oa=oa, app=zalo_app, zalo_user_id=user_id, link_method=LinkMethod.MANUAL
        )
    events = {}
    for n, (oa, user_id) in enumerate([*ids.items(), (connected_oa, "7800000000000000399")]):
        events[user_id] = ZaloEvent.objects.create(
            app=zalo_app,
            oa=oa,
            direction=Direction.INBOUND,
            event_name="user_send_text",
            dedupe_key=f"across-{n}",
            raw_body="{}",
            received_at=timezone.now(),
            zalo_user_id=user_id,
            processing_state="processed",
        )
    client = _login(auditor)
    page = client.get(LIST).content.decode()
    choices = page.split('id="customer-filter"', 1)[1].split("</ul>", 1)[0]
    # It should offer Mai once, with both of her ids on hover, and the stranger apart.
    assert choices.count("Trần Thị Mai") == 1
    assert "Zalo user ID 7800000000000000302, 7800000000000000301" in choices
    assert ">7800000000000000399<" in choices
    # It should find all of Mai's events from either of her ids, and nobody else's.
    mine = sorted(events[i].pk for i in ids.values())
    for user_id in ids.values():
        assert sorted(_rows(client.get(LIST, {"customer": user_id}))) == mine
    stranger = _rows(client.get(LIST, {"customer": "7800000000000000399"}))
    assert stranger == [events["7800000000000000399"].pk]


# --- the form --------------------------------------------------------------------------


def test_it_shows_the_raw_payload_the_attempts_and_the_linked_api_logs(
    sandbox, connected_oa, it_admin
):
    _, event = _failed_send(sandbox, connected_oa)
    client = _login(it_admin)
    page = client.get(_url(event)).content.decode()
    # It should show the raw payload and the history of attempts.
    assert 'id="raw-payload"' in page and SON_SUPPORT_USER_ID in page and "Báo giá" in page
    assert "History of attempts" in page and "Failed" in page
    # It should list the calls made to Zalo for this event, and link to their list.
    logs = ApiLog.objects.filter(ref_type="event", ref_id=str(event.pk))
    assert logs.exists()
    assert 'id="linked-api-logs"' in page and "oa.message.cs" in page
    assert 'id="btn-api-logs"' in page
    href = page.split('id="btn-api-logs" class="historylink" href="')[1].split('"')[0]
    href = href.replace("&amp;", "&")
    assert parse_qs(urlsplit(href).query) == {"ref_type": ["event"], "ref_id": [str(event.pk)]}
    # It should reach the API log list filtered to this event's calls only.
    ApiLog.objects.create(created_at=logs[0].created_at, method="GET", endpoint="x", duration_ms=1)
    api_list = client.get(href)
    assert api_list.status_code == 200
    assert {log.pk for log in api_list.context["cl"].result_list} == set(
        logs.values_list("pk", flat=True)
    )
    # It should offer Resend and Retry Processing for a failed message, not Mark Error.
    assert 'id="btn-resend"' in page and 'id="btn-retry"' in page
    assert 'id="btn-mark-error"' not in page


def test_it_shows_a_user_granted_zalo_events_the_events_api_logs(sandbox, connected_oa, auditor):
    _, event = _failed_send(sandbox, connected_oa)
    page = _login(auditor).get(_url(event)).content.decode()
    # It should give the granted user the seed's API Logs button on the message form.
    assert 'id="raw-payload"' in page and 'id="btn-resend"' in page
    assert 'id="btn-api-logs"' in page and 'id="linked-api-logs"' in page
    assert _login(auditor).get("/admin/apilog/apilog/").status_code == 200


def test_it_offers_the_escalation_bundle_from_the_event_form(sandbox, connected_oa, it_admin):
    _, event = _failed_send(sandbox, connected_oa)
    client = _login(it_admin)
    page = client.get(_url(event)).content.decode()
    # It should link the event to its escalation summary (the seed's checklist).
    assert 'id="btn-escalation"' in page
    bundle = client.get(f"/admin/diagnostics/healthsnapshot/escalation/event/{event.pk}/")
    assert bundle.status_code == 200


def test_it_hides_api_logs_from_a_cs_agent_granted_nothing_else(agent):
    # It should never show a CS agent the API logs.
    assert _login(agent).get("/admin/apilog/apilog/").status_code == 403


# --- the actions -----------------------------------------------------------------------


def test_it_retries_an_errored_event_from_its_stored_payload(zalo_app, auditor, request):
    event = _errored_inbound(zalo_app)
    assert event.error_category == ErrorCategory.TOKEN and event.oa is None
    client = _login(auditor)
    page = client.get(_url(event)).content.decode()
    assert 'id="btn-retry"' in page and 'id="btn-resend"' not in page
    # The admin authorizes the OA, then presses Retry Processing.
    oa = request.getfixturevalue("connected_oa")
    response = client.post(_url(event, "retry_processing"))
    assert response.status_code == 302 and response["Location"] == _url(event)
    event.refresh_from_db()
    # It should queue the event again, now for the OA its payload names.
    assert event.processing_state == ProcessingState.QUEUED and event.oa == oa
    assert event.error_message == ""
    drain()
    event.refresh_from_db()
    assert event.processing_state == ProcessingState.PROCESSED
    assert event.message.text == "Xin chào, tôi cần báo giá"
    # It should record who pressed it in the event's history.
    assert LogEntry.objects.filter(object_id=str(event.pk), user=auditor).exists()


def test_it_resends_a_failed_message_as_a_new_attempt(sandbox, connected_oa, auditor):
    message, event = _failed_send(sandbox, connected_oa)
    client = _login(auditor)
    response = client.post(_url(event, "resend"), follow=True)
    # It should open the new event, the old one keeping its failed attempt.
    new = ZaloEvent.objects.exclude(pk=event.pk).get(message=message)
    assert response.redirect_chain[-1][0] == _url(new)
    assert "queued to send again" in response.content.decode()
    assert f"{event}" in response.content.decode()  # listed under the message's events
    message.refresh_from_db()
    assert message.zalo_state == ZaloState.ON_QUEUE and message.failure_reason == ""
    event.refresh_from_db()
    assert event.processing_state == ProcessingState.ERROR
    assert event.attempt_log.get().result == "error"
    # It should reach Zalo when the worker sends it.
    assert send_outbound(event_id=new.pk, worker_id="test-worker") == "sent"
    message.refresh_from_db()
    assert message.zalo_state == ZaloState.SENT and message.zalo_msg_id
    # It should refuse to resend a message that is no longer Failed.
    response = client.post(_url(event, "resend"), follow=True)
    assert "can be resent" in response.content.decode()
    assert ZaloEvent.objects.filter(message=message).count() == 2


def test_it_marks_an_event_as_error_only_with_a_reason(zalo_app, connected_oa, auditor):
    event = _inbound(zalo_app)  # Received, not processed yet: the worker is stuck
    client = _login(auditor)
    page = client.get(_url(event)).content.decode()
    assert 'id="btn-mark-error"' in page and 'id="btn-retry"' not in page
    # It should ask for a reason first.
    form = client.get(_url(event, "mark_error"))
    assert form.status_code == 200 and 'id="reason"' in form.content.decode()
    blank = client.post(_url(event, "mark_error"), {"reason": "  "})
    assert blank.status_code == 200 and 'id="reason-error"' in blank.content.decode()
    event.refresh_from_db()
    assert event.processing_state == ProcessingState.RECEIVED
    # It should mark the event with who did it and why.
    response = client.post(_url(event, "mark_error"), {"reason": "stuck since Monday"})
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.processing_state == ProcessingState.ERROR
    assert event.error_message == "Marked as error by auditor: stuck since Monday"
    # It should then offer Retry Processing, which processes it.
    page = client.get(_url(event)).content.decode()
    assert 'id="btn-retry"' in page and 'id="btn-mark-error"' not in page
    client.post(_url(event, "retry_processing"))
    drain()
    event.refresh_from_db()
    assert event.processing_state == ProcessingState.PROCESSED


def test_it_marks_a_message_zalo_never_confirmed_as_failed(sandbox, connected_oa, auditor):
    result, message, event = _send(connected_oa)
    assert result == "sent" and message.zalo_state == ZaloState.SENT
    client = _login(auditor)
    assert 'id="btn-mark-error"' in client.get(_url(event)).content.decode()
    client.post(_url(event, "mark_error"), {"reason": "no receipt for two days"})
    # It should fail the message (Zalo State) and the event, so Resend becomes possible.
    message.refresh_from_db()
    event.refresh_from_db()
    assert message.zalo_state == ZaloState.FAILED
    assert "no receipt for two days" in message.failure_reason
    assert event.processing_state == ProcessingState.ERROR
    assert 'id="btn-resend"' in client.get(_url(event)).content.decode()


def test_it_runs_each_action_on_a_selection(sandbox, zalo_app, auditor, request):
    first = _errored_inbound(zalo_app)
    second = _inbound(
        zalo_app, **{CUSTOMER: "7800000000000000202", "96d3cdf3af150460909": "other-msg"}
    )
    drain()
    oa = request.getfixturevalue("connected_oa")
    client = _login(auditor)
    # It should offer the three actions in the list.
    page = client.get(LIST).content.decode()
    for label in ("Retry Processing", "Resend", "Mark Error"):
        assert f">{label}<" in page
    # Retry Processing on a selection.
    selected = {"action": "retry_processing", "_selected_action": [first.pk, second.pk]}
    response = client.post(LIST, selected, follow=True)
    assert "2 event(s) queued for processing again." in response.content.decode()
    drain()
    assert set(ZaloEvent.objects.values_list("processing_state", flat=True)) == {"processed"}
    # Mark Error on a selection: a page for the reason, then every event marked.
    queued = [_send(oa, text=f"Tin {n}")[2] for n in range(2)]
    _, failed = _failed_send(sandbox, oa)
    ids = [e.pk for e in queued]
    page = client.post(LIST, {"action": "mark_error", "_selected_action": ids})
    assert page.status_code == 200 and 'id="reason"' in page.content.decode()
    done = client.post(
        LIST, {"action": "mark_error", "_selected_action": ids, "reason": "lost"}, follow=True
    )
    assert "2 event(s) marked as error." in done.content.decode()
    assert set(Message.objects.filter(events__in=ids).values_list("zalo_state", flat=True)) == {
        ZaloState.FAILED
    }
    # Resend on a selection: the failed messages go again, an inbound event is refused.
    response = client.post(
        LIST,
        {"action": "resend", "_selected_action": [*ids, failed.pk, first.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "3 message(s) queued to send again." in html
    assert "Only messages sent to a customer can be resent." in html
    outbound = Message.objects.filter(direction=Direction.OUTBOUND)
    assert set(outbound.values_list("zalo_state", flat=True)) == {ZaloState.ON_QUEUE}
    assert ZaloEvent.objects.filter(direction=Direction.OUTBOUND).count() == 6
