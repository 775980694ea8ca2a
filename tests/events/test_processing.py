"""Processing stored events: the handler table, receipts, ordering, and recovery."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.helpers import fixture, held_elsewhere, post_webhook
from zalohub.events.actions import ActionRefused, event_mark_error, event_retry_processing
from zalohub.events.models import (
    Direction,
    ErrorCategory,
    Message,
    Outcome,
    ProcessingState,
    ZaloEvent,
    ZaloState,
)
from zalohub.events.processing.queue import claim_batch, drain, process_batch, sweep_expired_leases

USER = "7800000000000000101"


def _post(client, app, name: str, **replace: str) -> ZaloEvent:
    response = post_webhook(client, app.app_id, fixture(name, **replace), key=app.oa_secret_key)
    assert response.status_code == 200, response.content
    return ZaloEvent.objects.order_by("-id").first()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("user_send_text__official", "text"),
        ("user_send_image__basic", "image"),
        ("user_send_gif__basic", "gif"),
        ("user_send_file__pdf", "file"),
        ("user_send_sticker__basic", "sticker"),
        ("user_send_link__basic", "link"),
        ("user_send_location__basic", "location"),
        ("user_send_audio__basic", "audio"),
        ("user_send_video__basic", "video"),
    ],
)
def test_every_customer_message_kind_is_stored(client, zalo_app, connected_oa, name, kind):
    event = _post(client, zalo_app, name)
    assert drain() == 1
    event.refresh_from_db()
    # It should process the event and store the message on the conversation.
    assert event.processing_state == ProcessingState.PROCESSED
    assert event.outcome == Outcome.HANDLED
    message = event.message
    assert message.kind == kind and message.direction == Direction.INBOUND
    assert message.oa == connected_oa and message.zalo_user_id == USER
    if kind != "text":
        assert message.attachments and message.attachments[0]["type"] in (kind, "file")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "outcome"),
    [
        ("follow__official", "handled"),
        ("unfollow__official", "handled"),
        ("follow__without_user_id_by_app", "handled"),
        ("user_submit_info__current", "handled"),
        ("user_submit_info__legacy", "handled"),
        ("change_template_status__rejected", "recorded"),
        ("change_template_quota__basic", "recorded"),
        ("change_template_quality__low", "recorded"),
        ("user_feedback__csat", "recorded"),
        ("user_received_message__zns", "recorded"),
        ("user_reacted_message__heart", "ignored"),
        # Zalo's console lists it (API.md §3.4): recorded, its kind named (issue 16 §12).
        ("shop_has_order__unknown", "recorded"),
    ],
)
def test_other_events_are_kept_with_their_outcome(client, zalo_app, connected_oa, name, outcome):
    event = _post(client, zalo_app, name)
    drain()
    event.refresh_from_db()
    assert event.processing_state == ProcessingState.PROCESSED
    assert event.outcome == outcome


@pytest.mark.django_db
def test_an_event_no_catalogue_names_is_kept_as_unknown(client, zalo_app, connected_oa):
    raw = fixture("shop_has_order__unknown").replace("shop_has_order", "zalo_future_event")
    assert post_webhook(client, zalo_app.app_id, raw, key=zalo_app.oa_secret_key).status_code == 200
    drain()
    event = ZaloEvent.objects.get(event_name="zalo_future_event")
    assert event.processing_state == ProcessingState.PROCESSED
    assert event.outcome == Outcome.UNKNOWN


@pytest.mark.django_db
def test_receipts_move_an_outbound_message_forward_only(client, zalo_app, connected_oa):
    sent = Message.objects.create(
        oa=connected_oa,
        direction=Direction.OUTBOUND,
        zalo_user_id=USER,
        text="Báo giá",
        zalo_msg_id="m-out-1",
        zalo_state=ZaloState.SENT,
    )
    _post(client, zalo_app, "user_received_message__oa", REPLACE_MSG_ID="m-out-1")
    drain()
    sent.refresh_from_db()
    assert sent.zalo_state == ZaloState.DELIVERED and sent.delivered_at
    _post(client, zalo_app, "user_seen_message__oa", REPLACE_MSG_ID="m-out-1")
    drain()
    sent.refresh_from_db()
    assert sent.zalo_state == ZaloState.READ and sent.read_at
    # It should not move a read message back when a late receipt arrives.
    late = fixture("user_received_message__oa", REPLACE_MSG_ID="m-out-1").replace(
        "1763800002000", "1763800002999"
    )
    post_webhook(client, zalo_app.app_id, late, key=zalo_app.oa_secret_key)
    drain()
    sent.refresh_from_db()
    assert sent.zalo_state == ZaloState.READ


@pytest.mark.django_db
def test_an_echo_of_a_web_tool_message_is_stored(client, zalo_app, connected_oa):
    event = _post(client, zalo_app, "oa_send_text__web_tool")
    drain()
    event.refresh_from_db()
    assert event.message.direction == Direction.OUTBOUND
    assert event.message.zalo_user_id == USER
    assert event.message.zalo_state == ZaloState.SENT


@pytest.mark.django_db
def test_an_event_for_an_unconnected_oa_is_an_error_that_can_be_retried(client, zalo_app):
    event = _post(client, zalo_app, "user_send_text__official")
    drain()
    event.refresh_from_db()
    assert event.processing_state == ProcessingState.ERROR
    assert event.error_category == ErrorCategory.TOKEN
    assert "not connected" in event.error_message
    # It should process the stored raw body once the OA is connected.
    from zalohub.accounts.models import OfficialAccount

    OfficialAccount.objects.create(app=zalo_app, name="Support", oa_id="4310500000000000001")
    ZaloEvent.objects.filter(pk=event.pk).update(oa=OfficialAccount.objects.get())
    event_retry_processing(event=event)
    drain()
    event.refresh_from_db()
    assert event.processing_state == ProcessingState.PROCESSED and event.message.text


def _texts(client, app, n: int, user: str = USER) -> list[ZaloEvent]:
    """n texts of one customer, in a row."""
    return [
        _post(
            client,
            app,
            "user_send_text__official",
            **{USER: user, "96d3cdf3af150460909": f"row-{user[-3:]}-{i}"},
        )
        for i in range(n)
    ]


@pytest.mark.django_db
def test_one_conversation_is_processed_in_order(client, zalo_app, connected_oa):
    first = _post(client, zalo_app, "user_send_text__official")
    claimed = claim_batch(worker_id="w1")
    assert [e.pk for e in claimed] == [first.pk]
    second = _post(client, zalo_app, "user_send_text__quote_reply")
    other = _post(
        client,
        zalo_app,
        "user_send_text__official",
        **{USER: "7800000000000000202", "96d3cdf3af150460909": "other-1"},
    )
    # It should hold the second message of a conversation until the first is done.
    assert [e.pk for e in claim_batch(worker_id="w2")] == [other.pk]
    assert claim_batch(worker_id="w2") == []
    process_batch(claimed, worker_id="w1")
    assert [e.pk for e in claim_batch(worker_id="w2")] == [second.pk]


@pytest.mark.django_db
def test_a_customers_messages_in_a_row_come_in_one_batch_in_order(client, zalo_app, connected_oa):
    mine = _texts(client, zalo_app, 4)
    theirs = _texts(client, zalo_app, 2, user="7800000000000000202")
    # It should give one worker the whole run of each conversation, in arrival order
    # (not one message per claim), and nothing of them to another worker meanwhile.
    claimed = claim_batch(worker_id="w1")
    assert [e.pk for e in claimed] == sorted(e.pk for e in [*mine, *theirs])
    assert claim_batch(worker_id="w2") == []
    assert process_batch(claimed, worker_id="w1") == 6
    texts = list(Message.objects.order_by("id").values_list("zalo_msg_id", flat=True))
    assert texts == [f"row-101-{i}" for i in range(4)] + [f"row-202-{i}" for i in range(2)]
    # A batch's limit cuts a run in arrival order: what is left comes next, behind it.
    later = _texts(client, zalo_app, 3, user="7800000000000000303")
    assert [e.pk for e in claim_batch(worker_id="w1", limit=2)] == [later[0].pk, later[1].pk]
    assert claim_batch(worker_id="w2") == []


@pytest.mark.django_db
def test_a_run_stops_at_a_message_not_due_yet(client, zalo_app, connected_oa):
    one, two, _third = _texts(client, zalo_app, 3)
    ZaloEvent.objects.filter(pk=two.pk).update(next_attempt_at=timezone.now() + timedelta(hours=1))
    # The second waits for its retry: the third waits behind it, not past it.
    assert [e.pk for e in claim_batch(worker_id="w1")] == [one.pk]


@pytest.mark.django_db
def test_a_failed_message_keeps_the_rest_of_its_conversation_behind_it(
    client, zalo_app, connected_oa, monkeypatch
):
    from zalohub.events.processing import queue
    from zalohub.events.processing.handlers import HandlerError

    one, two, three = _texts(client, zalo_app, 3)
    other = _texts(client, zalo_app, 1, user="7800000000000000202")[0]
    real = queue.dispatch

    def flaky(event):  # type: ignore[no-untyped-def]
        if event.pk == two.pk:
            raise HandlerError("Zalo was away", retry=True)
        return real(event)

    monkeypatch.setattr(queue, "dispatch", flaky)
    claimed = claim_batch(worker_id="w1")
    assert len(claimed) == 4
    assert process_batch(claimed, worker_id="w1") == 2
    states = {e.pk: e.processing_state for e in ZaloEvent.objects.all()}
    # The first and the other customer's are done; the second waits for its retry and
    # the third waits behind it, unprocessed (attempts untouched).
    assert states[one.pk] == states[other.pk] == ProcessingState.PROCESSED
    assert states[two.pk] == states[three.pk] == ProcessingState.QUEUED
    three.refresh_from_db()
    assert three.attempts == 0 and three.claimed_by == ""
    assert claim_batch(worker_id="w2") == []  # the second's backoff holds both


@pytest.mark.django_db(transaction=True)
def test_a_run_stops_at_a_message_held_elsewhere_on_postgresql(client, zalo_app, connected_oa):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer at a time anyway")
    one, two, _third = _texts(client, zalo_app, 3)

    def hold() -> None:  # an admin's action on the second, in its own transaction
        list(ZaloEvent.objects.select_for_update().filter(pk=two.pk).values_list("pk"))

    with held_elsewhere(hold):
        assert [e.pk for e in claim_batch(worker_id="w1")] == [one.pk]
    # The third is not claimable past the second.
    assert claim_batch(worker_id="w2") == []


@pytest.mark.django_db
def test_a_dead_workers_batch_is_swept_back_and_processed_once(client, zalo_app, connected_oa):
    event = _post(client, zalo_app, "user_send_text__official")
    assert claim_batch(worker_id="dies") != []
    ZaloEvent.objects.filter(pk=event.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert sweep_expired_leases() == 1
    assert drain() == 1
    event.refresh_from_db()
    assert event.processing_state == ProcessingState.PROCESSED and event.attempts == 1
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_a_late_worker_cannot_commit_a_swept_event(client, zalo_app, connected_oa):
    _post(client, zalo_app, "user_send_text__official")
    batch = claim_batch(worker_id="slow")
    ZaloEvent.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
    sweep_expired_leases()
    drain(worker_id="fast")
    # It should roll back the slow worker's work when it finally finishes.
    assert process_batch(batch, worker_id="slow") == 0
    assert Message.objects.count() == 1
    assert ZaloEvent.objects.get().attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_slow_but_living_batch_is_not_swept_on_postgresql(client, zalo_app, connected_oa):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer at a time anyway")
    from zalohub.events.processing.queue import _lock

    _post(client, zalo_app, "user_send_text__official")
    batch = claim_batch(worker_id="slow")
    ZaloEvent.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
    with held_elsewhere(lambda: _lock(batch)):  # the slow worker, still at it
        # It should leave the batch to the worker still holding it, lease or no lease...
        assert sweep_expired_leases() == 0
    # ...and hand it on once nobody holds it (the worker died).
    assert sweep_expired_leases() == 1
    assert drain() == 1
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_mark_error_then_retry(client, zalo_app, connected_oa, admin):
    event = _post(client, zalo_app, "user_send_text__official")
    event = event_mark_error(event=event, reason="stuck since Monday", actor=admin)
    assert event.processing_state == ProcessingState.ERROR
    assert "admin" in event.error_message and "stuck since Monday" in event.error_message
    with pytest.raises(ActionRefused):
        event_mark_error(event=event, reason="again", actor=admin)
    event_retry_processing(event=event)
    drain()
    event.refresh_from_db()
    assert event.processing_state == ProcessingState.PROCESSED


@pytest.mark.django_db(transaction=True)
def test_two_workers_split_the_queue_without_overlap(client, zalo_app, connected_oa):
    for n in range(60):
        raw = (
            fixture("user_send_text__official")
            .replace(USER, f"78000000000{n:07d}")
            .replace("96d3cdf3af150460909", f"m-{n}")
        )
        post_webhook(client, zalo_app.app_id, raw, key=zalo_app.oa_secret_key)
    seen: dict[str, list[int]] = {"a": [], "b": []}
    barrier = threading.Barrier(2)

    def work(name: str) -> None:
        try:
            barrier.wait()
            while batch := claim_batch(worker_id=name, limit=7):
                seen[name].extend(e.pk for e in batch)
                process_batch(batch, worker_id=name)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in seen]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # It should give every event to exactly one worker and process each once.
    assert not set(seen["a"]) & set(seen["b"])
    assert len(seen["a"]) + len(seen["b"]) == 60
    assert Message.objects.count() == 60
    assert set(ZaloEvent.objects.values_list("attempts", flat=True)) == {1}


@pytest.mark.django_db
def test_one_bad_event_in_a_batch_costs_only_itself(client, zalo_app, connected_oa):
    _post(client, zalo_app, "user_send_text__official")
    _post(client, zalo_app, "user_send_image__basic", **{"4310500000000000001": "999"})
    _post(client, zalo_app, "user_send_sticker__basic")
    assert drain() == 3
    states = dict(ZaloEvent.objects.values_list("event_name", "processing_state"))
    # It should process the good events once and put only the bad one in Error.
    assert states == {
        "user_send_text": ProcessingState.PROCESSED,
        "user_send_image": ProcessingState.ERROR,
        "user_send_sticker": ProcessingState.PROCESSED,
    }
    assert Message.objects.count() == 2
    assert set(ZaloEvent.objects.values_list("attempts", flat=True)) == {1}
