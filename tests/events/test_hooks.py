"""events' declared hooks (STYLE.md §3b): other apps hear of stored messages and state
changes once per batch, and handle a kind of receipt, without editing events' tables."""

import pytest
from django.test import Client

from tests.helpers import fixture, post_webhook
from zalohub.events import catalogue, hooks
from zalohub.events.models import Direction, Message, Outcome, ProcessingState, ZaloEvent, ZaloState
from zalohub.events.processing import handlers
from zalohub.events.processing.queue import drain, process_batch
from zalohub.inbox import live

pytestmark = pytest.mark.django_db
USER = "7800000000000000101"
BY_APP = "5500000000000000101"


@pytest.fixture
def heard(monkeypatch) -> dict[str, list]:
    """A subscriber of each hook, alongside the apps' own; each call's rows, as lists."""
    calls: dict[str, list] = {"stored": [], "changed": []}
    monkeypatch.setattr(hooks, "STORED_SUBSCRIBERS", list(hooks.STORED_SUBSCRIBERS))
    monkeypatch.setattr(hooks, "STATE_SUBSCRIBERS", list(hooks.STATE_SUBSCRIBERS))
    hooks.on_message_stored(lambda messages: calls["stored"].append(list(messages)))
    hooks.on_message_state_changed(lambda changes: calls["changed"].append(list(changes)))
    return calls


def _post(app, name: str, **replace: str) -> ZaloEvent:
    raw = fixture(name, **replace)
    response = post_webhook(Client(), app.app_id, raw, key=app.oa_secret_key)
    assert response.status_code == 200, response.content
    return ZaloEvent.objects.order_by("-id").first()


def _process_together(events: list[ZaloEvent]) -> None:
    ZaloEvent.objects.filter(pk__in=[e.pk for e in events]).update(
        processing_state=ProcessingState.PROCESSING, claimed_by="test-worker"
    )
    for event in events:
        event.refresh_from_db()
    process_batch(events, worker_id="test-worker")


def _ours(oa, msg_id: str, *, kind: str = Message.Kind.TEXT, state: str = ZaloState.SENT):
    return Message.objects.create(
        oa=oa,
        direction=Direction.OUTBOUND,
        kind=kind,
        zalo_user_id=USER,
        zalo_msg_id=msg_id,
        zalo_state=state,
    )


def test_it_tells_subscribers_of_each_stored_message_once_per_batch(heard, zalo_app, connected_oa):
    events = [
        _post(
            zalo_app,
            "user_send_text__official",
            **{USER: f"7899{i:015d}", BY_APP: f"5599{i:015d}", "96d3cdf3af150460909": f"h-{i}"},
        )
        for i in range(3)
    ]
    _process_together(events)
    # It should call the subscriber once for the batch, with each new message once.
    assert len(heard["stored"]) == 1
    assert sorted(m.zalo_msg_id for m in heard["stored"][0]) == ["h-0", "h-1", "h-2"]
    assert all(m.pk for m in heard["stored"][0])  # stored before it is told
    reply = _ours(connected_oa, "out-alone")
    # It should tell of a message created alone (a reply) as a batch of one.
    assert heard["stored"][1] == [reply]
    _post(zalo_app, "user_send_text__official", **{"96d3cdf3af150460909": "h-0"})
    drain()
    # It should not tell again of a message Zalo delivers twice.
    assert len(heard["stored"]) == 2


def test_it_tells_subscribers_of_each_state_change_once_per_batch(heard, zalo_app, connected_oa):
    first, second = _ours(connected_oa, "out-1"), _ours(connected_oa, "out-2")
    heard["stored"].clear()
    raw = fixture("user_seen_message__oa").replace('"REPLACE_MSG_ID"', '"out-1", "out-2"')
    assert post_webhook(Client(), zalo_app.app_id, raw, key=zalo_app.oa_secret_key).status_code
    drain()
    # It should call the subscriber once, with each message it moved, from Sent to Read.
    [changes] = heard["changed"]
    assert {c.message.pk for c in changes} == {first.pk, second.pk}
    assert {(c.previous, c.state) for c in changes} == {(ZaloState.SENT, ZaloState.READ)}
    assert all(c.message.zalo_state == ZaloState.READ for c in changes)
    _post(zalo_app, "user_received_message__oa", **{"REPLACE_MSG_ID": "out-1"})
    drain()
    # It should not call it for a receipt that moves nothing (Read stays Read).
    assert len(heard["changed"]) == 1
    assert not heard["stored"]


def test_it_keeps_no_state_changes_when_nobody_subscribed(monkeypatch, connected_oa):
    def kept(*args, **kwargs):
        raise AssertionError("a state change kept for nobody")

    monkeypatch.setattr(hooks, "STATE_SUBSCRIBERS", [])
    monkeypatch.setattr(hooks, "StateChange", kept)
    message = _ours(connected_oa, "out-1")
    # It should not build per-message changes on the set-wise path when nobody listens.
    assert handlers.advance_state(message, ZaloState.DELIVERED, message.created_at)
    message.refresh_from_db()
    assert message.zalo_state == ZaloState.DELIVERED


def test_an_echo_of_our_template_message_wakes_the_inbox(
    zalo_app, connected_oa, django_capture_on_commit_callbacks
):
    ours = _ours(connected_oa, "b1", kind=Message.Kind.TEMPLATE, state=ZaloState.ON_QUEUE)
    _post(zalo_app, "oa_send_text__web_tool", **{'"oa_send_text"': '"oa_send_template"'})
    notifier = live.get_notifier()
    before = notifier.generation
    with django_capture_on_commit_callbacks(execute=True):
        drain()
    ours.refresh_from_db()
    # It should confirm the message Sent, and wake the OA's live pages (an echo the
    # inbox's copied list of event names used to miss).
    assert ours.zalo_state == ZaloState.SENT
    assert ZaloEvent.objects.get(event_name="oa_send_template").message_id == ours.pk
    assert notifier.generation > before


def test_a_receipt_kind_nobody_registered_is_recorded(monkeypatch, zalo_app, connected_oa):
    monkeypatch.setattr(handlers, "RECEIPT_HANDLERS", {})
    event = _post(zalo_app, "user_received_message__zns")
    drain()
    event.refresh_from_db()
    # It should keep a ZNS receipt as it came while no app handles ZNS receipts.
    assert event.outcome == Outcome.RECORDED
    # It should refuse a kind of receipt it cannot tell apart on the wire.
    with pytest.raises(ValueError, match="unknown receipt kind"):
        handlers.register_receipt_kind("sms")


def test_a_registered_receipt_kind_gets_its_receipts(monkeypatch, zalo_app, connected_oa):
    monkeypatch.setattr(handlers, "RECEIPT_HANDLERS", {})
    got = []

    @handlers.register_receipt_kind("zns")
    def handle(event, wire):
        got.append(wire.tracking_id)
        return handlers.Result(outcome=Outcome.HANDLED)

    _post(zalo_app, "user_received_message__zns")
    ours = _ours(connected_oa, "out-1")
    _post(zalo_app, "user_received_message__oa", **{"REPLACE_MSG_ID": "out-1"})
    drain()
    ours.refresh_from_db()
    # It should give the kind its receipts, and leave an OA message's receipt to events.
    assert got == ["order-88213"]
    assert ours.zalo_state == ZaloState.DELIVERED


def test_an_event_named_after_the_old_pseudo_event_is_unknown(zalo_app, connected_oa):
    raw = fixture("user_received_message__zns").replace('"user_received_message"', '"zns_receipt"')
    assert post_webhook(Client(), zalo_app.app_id, raw, key=zalo_app.oa_secret_key).status_code
    drain()
    # It should not route a webhook named "zns_receipt" to the ZNS receipt handler: the
    # name is nothing Zalo sends.
    assert ZaloEvent.objects.get().outcome == Outcome.UNKNOWN


def test_recorded_events_are_the_known_ones_nobody_handles(monkeypatch):
    recorded = handlers.recorded()
    # It should record what the catalogue knows and neither a handler nor IGNORED covers
    # (a shop's order: nothing of the hub's handles it).
    assert "shop_has_order" in recorded and "shop_has_order" in catalogue.EVENT_NAMES
    assert not recorded & (handlers.HANDLERS.keys() | handlers.IGNORED.keys())
    # zbs handles the template events: they are not recorded, though nobody listed them.
    assert "change_template_status" not in recorded
    monkeypatch.setitem(handlers.HANDLERS, "shop_has_order", lambda e, p: handlers.Result())
    # It should stop recording an event as soon as an app registers a handler for it.
    assert "shop_has_order" not in handlers.recorded()


def test_an_app_ignores_its_own_event_through_events(monkeypatch, zalo_app, connected_oa):
    monkeypatch.setattr(handlers, "IGNORED", dict(handlers.IGNORED))
    handlers.ignore_event("shop_has_order", "read in the shop's own tools")
    event = _post(zalo_app, "shop_has_order__unknown")
    drain()
    event.refresh_from_db()
    # It should mark the event ignored, with the reason kept beside the name.
    assert event.outcome == Outcome.IGNORED
    assert handlers.IGNORED["shop_has_order"] == "read in the shop's own tools"
    assert "shop_has_order" not in handlers.recorded()
