"""While Zalo fails (the sandbox's zalo_5xx scenario), a pending reply says which attempt
failed and when the next one is, in the inbox and on its Zalo event; after Resend the
old event leaves the Errors filter and points at the new one."""

import httpx
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import formats, timezone

from zalohub.events.models import Direction, ProcessingState, ZaloEvent, ZaloState
from zalohub.events.outbound.oa_message import message_send

from .conftest import SON, conversation_of, send_due

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def scenario(sandbox_server, sandbox):
    def call(name: str, *, undo: bool = False, **body) -> None:
        url = f"{sandbox_server.base_url}/_sandbox/scenarios/{name}"
        answer = httpx.request("DELETE" if undo else "POST", url, json=body, timeout=5)
        assert answer.status_code in (200, 201), answer.text

    return call


def test_it_says_which_attempt_failed_and_when_the_next_is(
    member, agent, auditor, customer_writes, scenario, settings
):
    settings.EVENTS_RETRY_BASE_SECONDS = 0  # each retry is due at once: three in a row
    customer_writes()
    conversation = conversation_of()
    reply = _client(agent).post(f"/inbox/c/{conversation.pk}/reply/", {"text": "Dạ shop đây"})
    assert reply.json()["ok"] is True
    scenario("zalo_5xx")
    assert send_due() == ["retry"]
    assert send_due() == ["retry"]
    assert send_due() == ["retry"]
    event = ZaloEvent.objects.get(direction=Direction.OUTBOUND)
    assert event.processing_state == ProcessingState.QUEUED and event.attempts == 3
    when = formats.time_format(timezone.localtime(event.next_attempt_at), "H:i:s")
    expected = f"Retrying, attempt 3 of {settings.EVENTS_MAX_ATTEMPTS}, next at {when}"

    # It should say so under the pending reply in the inbox, with the failure on hover.
    thread = _client(agent).get(f"/inbox/c/{conversation.pk}/thread/").content.decode()
    assert expected in thread
    assert 'data-status="pending"' in thread and ">Retrying</span>" in thread
    assert "503" in thread  # the last failure, in the badge's tooltip

    # It should say the same on the event's form and in the Zalo Events list.
    events = _client(auditor)
    form = events.get(reverse("admin:events_zaloevent_change", args=[event.pk]))
    assert expected in form.content.decode()
    listing = events.get(reverse("admin:events_zaloevent_changelist"))
    assert expected in listing.content.decode()

    # It should drop the line once Zalo takes the message.
    scenario("zalo_5xx", undo=True)
    assert send_due() == ["sent"]
    thread = _client(agent).get(f"/inbox/c/{conversation.pk}/thread/").content.decode()
    assert "Retrying" not in thread


def test_it_takes_a_resent_event_out_of_the_errors_filter(
    member, auditor, connected_oa, sandbox, customer_writes
):
    customer_writes()
    sandbox.add_fault("oa.message.cs", "zalo_error", code=-230, times=1)
    message = message_send(oa=connected_oa, user_id=SON, text="Báo giá")
    assert send_due() == ["failed"]
    old = ZaloEvent.objects.get(message=message)
    client = _client(auditor)
    errors_url = reverse("admin:events_zaloevent_changelist") + "?quick=errors"
    change = reverse("admin:events_zaloevent_change", args=[old.pk])
    assert f'href="{change}?' in client.get(errors_url).content.decode()

    # Resend from the event's form makes a new event and follows it.
    resent = client.post(reverse("admin:events_zaloevent_button", args=[old.pk, "resend"]))
    new = ZaloEvent.objects.filter(message=message).latest("id")
    assert new.pk != old.pk
    assert resent["Location"] == reverse("admin:events_zaloevent_change", args=[new.pk])
    old.refresh_from_db()
    assert old.processing_state == ProcessingState.ERROR  # its history stays as it was

    # It should no longer list the old event as an open error...
    assert change not in client.get(errors_url).content.decode()
    # ...and the old event should point at its successor, on its form and in the list.
    successor = reverse("admin:events_zaloevent_change", args=[new.pk])
    link = f'<a href="{successor}">Resent as #{new.pk}</a>'
    assert link in client.get(change).content.decode()
    assert link in client.get(reverse("admin:events_zaloevent_changelist")).content.decode()
    # The new attempt goes through: the message is Sent.
    assert send_due() == ["sent"]
    message.refresh_from_db()
    assert message.zalo_state == ZaloState.SENT


def test_it_calls_an_event_queued_again_by_hand_queued_not_retrying(connected_oa):
    from zalohub.events.actions import event_retry_processing
    from zalohub.events.processing.retrying import retry_state

    event = ZaloEvent.objects.create(
        app=connected_oa.app,
        oa=connected_oa,
        event_name="user_send_text",
        dedupe_key="by-hand",
        raw_body="{}",
        processing_state=ProcessingState.ERROR,
        attempts=1,
        error_message="HandlerError: the OA is not connected",
    )
    # It should not say "retrying" once an admin pressed Retry Processing (no failure since)...
    assert retry_state(event_retry_processing(event=event)) is None
    # ...but should while the worker's own retry waits after a failure.
    ZaloEvent.objects.filter(pk=event.pk).update(attempts=2, error_message="HTTP 503")
    event.refresh_from_db()
    state = retry_state(event)
    assert state is not None and state.attempts == 2 and "HTTP 503" in str(state)
