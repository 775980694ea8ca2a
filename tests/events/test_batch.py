"""A claimed batch is handled set-wise: the same outcome as one by one, in a few statements."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.helpers import fixture, post_webhook
from zalohub.accounts.models import OfficialAccount
from zalohub.core.setwise import update_rows
from zalohub.events.models import (
    Direction,
    Message,
    Outcome,
    ProcessingState,
    ZaloEvent,
    ZaloState,
)
from zalohub.events.processing.queue import drain, process_batch
from zalohub.inbox.models import Conversation
from zalohub.partners.models import IdentityDecision, Partner, ZaloPartnerLink

pytestmark = pytest.mark.django_db
USER = "7800000000000000101"
BY_APP = "5500000000000000101"


def _post(client, app, name: str, **replace: str) -> ZaloEvent:
    response = post_webhook(client, app.app_id, fixture(name, **replace), key=app.oa_secret_key)
    assert response.status_code == 200, response.content
    return ZaloEvent.objects.order_by("-id").first()


def _customer_writes(client, app, n: int, *, tag: str) -> None:
    for i in range(n):
        _post(
            client,
            app,
            "user_send_text__official",
            **{
                USER: f"78{tag}{i:08d}",
                BY_APP: f"55{tag}{i:08d}",
                "96d3cdf3af150460909": f"m-{tag}-{i}",
            },
        )


def _process_together(events: list[ZaloEvent]) -> int:
    """Handle events as one batch, as a worker does with what it claimed."""
    ZaloEvent.objects.filter(pk__in=[e.pk for e in events]).update(
        processing_state=ProcessingState.PROCESSING, claimed_by="test-worker"
    )
    for event in events:
        event.refresh_from_db()
    return process_batch(events, worker_id="test-worker")


def test_a_batch_costs_the_same_statements_for_4_or_40_new_customers(
    client, zalo_app, connected_oa
):
    def statements(n: int, tag: str) -> int:
        _customer_writes(client, zalo_app, n, tag=tag)
        with CaptureQueriesContext(connection) as queries:
            assert drain() == n
        return len(queries)

    few, many = statements(4, "11"), statements(40, "22")
    # It should resolve, link, store and fold a whole batch set-wise, not per event.
    assert many == few
    assert Partner.objects.count() == 44 and ZaloPartnerLink.objects.count() == 44
    assert Message.objects.filter(direction=Direction.INBOUND).count() == 44
    assert Conversation.objects.filter(unread_count=1).count() == 44
    assert IdentityDecision.objects.filter(kind=IdentityDecision.Kind.NEW_SHADOW).count() == 44
    assert not ZaloEvent.objects.exclude(processing_state=ProcessingState.PROCESSED).exists()


def test_one_customers_events_in_one_batch_end_as_one_by_one_would(client, zalo_app, connected_oa):
    events = [
        _post(client, zalo_app, "user_send_text__official"),
        _post(client, zalo_app, "oa_send_text__web_tool"),
        _post(client, zalo_app, "user_received_message__oa", REPLACE_MSG_ID="b1"),
        _post(client, zalo_app, "user_seen_message__oa", REPLACE_MSG_ID="b1"),
        _post(client, zalo_app, "unfollow__official"),
        _post(client, zalo_app, "follow__official"),
    ]
    assert _process_together(events) == 6
    # It should create one link for the customer, used by everything of the batch.
    link = ZaloPartnerLink.objects.get()
    inbound = Message.objects.get(direction=Direction.INBOUND)
    reply = Message.objects.get(direction=Direction.OUTBOUND)
    assert inbound.partner_link == link and reply.partner_link == link
    # It should let a receipt in the batch find the echo stored earlier in the same batch.
    assert reply.zalo_state == ZaloState.READ
    assert reply.delivered_at and reply.read_at
    for event in events:
        event.refresh_from_db()
    assert [e.outcome for e in events] == [Outcome.HANDLED] * 6
    assert events[3].message == reply
    # It should let the newest follow event win (the unfollow, though handled first),
    # and keep the newest interaction.
    assert link.is_follower is False and link.followed_at is None and link.unfollowed_at
    assert link.last_interaction_at == max(e.event_time for e in events)
    # It should fold both messages into one conversation: the reply is the last one.
    conversation = Conversation.objects.get()
    assert conversation.unread_count == 1
    assert conversation.last_message == reply
    assert conversation.last_inbound_at == inbound.created_at


def test_the_same_app_user_in_two_oas_of_one_batch_is_one_partner(client, zalo_app, connected_oa):
    other_oa = OfficialAccount.objects.create(
        app=zalo_app, name="Support 2", oa_id="4310500000000000002"
    )
    first = _post(client, zalo_app, "user_send_text__official")
    second = _post(
        client,
        zalo_app,
        "user_send_text__official",
        **{USER: "7800000000000000999", "4310500000000000001": other_oa.oa_id, "909": "910"},
    )
    assert second.oa == other_oa
    assert _process_together([first, second]) == 2
    # It should join the second OA's link to the partner the first one just created.
    links = list(ZaloPartnerLink.objects.order_by("id"))
    assert len(links) == 2 and links[0].partner_id == links[1].partner_id
    assert Partner.objects.count() == 1
    kinds = sorted(IdentityDecision.objects.values_list("kind", flat=True))
    assert kinds == [IdentityDecision.Kind.JOINED, IdentityDecision.Kind.NEW_SHADOW]


def test_a_redelivered_message_id_is_stored_once_across_batches(client, zalo_app, connected_oa):
    _post(client, zalo_app, "user_send_text__official")
    drain()
    # Zalo's own retry would be deduplicated at ingest; this one came as another event.
    again = _post(
        client, zalo_app, "user_send_text__official", **{"1763800000000": "1763800000001"}
    )
    drain()
    again.refresh_from_db()
    assert Message.objects.count() == 1
    assert again.message == Message.objects.get()
    assert Conversation.objects.get().unread_count == 1


def test_update_rows_writes_each_row_its_own_fields_under_its_guard(connected_oa):
    def message(msg_id: str, state: str) -> Message:
        return Message.objects.create(
            oa=connected_oa,
            direction=Direction.OUTBOUND,
            zalo_user_id=USER,
            zalo_msg_id=msg_id,
            zalo_state=state,
            text="keep me",
        )

    a, b, c = message("a", ZaloState.SENT), message("b", ZaloState.READ), message("c", "")
    update_rows(
        Message,
        {
            a.pk: {"zalo_state": ZaloState.DELIVERED},
            b.pk: {"zalo_state": ZaloState.DELIVERED},
            c.pk: {"failure_reason": "x", "failure_code": -230},
        },
        only_if={
            a.pk: ("zalo_state", [ZaloState.SENT, ""]),
            b.pk: ("zalo_state", [ZaloState.SENT, ""]),
        },
    )
    for m in (a, b, c):
        m.refresh_from_db()
    # It should change a row only while its guard holds, and only the fields it was given.
    assert a.zalo_state == ZaloState.DELIVERED
    assert b.zalo_state == ZaloState.READ
    assert (c.zalo_state, c.failure_reason, c.failure_code) == ("", "x", -230)
    assert {m.text for m in (a, b, c)} == {"keep me"}
