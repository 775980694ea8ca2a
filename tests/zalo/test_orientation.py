"""zalo.webhook tells the OA from the user by the OAs the app knows, for every event kind
that names a sender and a recipient, whichever side Zalo puts the OA on (API.md §3.3-§3.6
disagree for receipts)."""

import pytest

from zalohub.zalo import catalogue
from zalohub.zalo.webhook import head, oa_candidates, parse

OA = "4310500000000000001"
USER = "7800000000000000101"
PHONE = "84912345678"
HASHED = "a" * 64
# Every event that names a sender and a recipient: the receipts and the OA's echoes (the
# customer messages are orientated the same way, with the user as the sender).
TWO_SIDED = sorted({*catalogue.RECEIPTS, *catalogue.OA_MESSAGES, *catalogue.USER_MESSAGES})


def _event(name: str, sender: str, recipient: str, **message: object) -> dict:
    return {
        "app_id": "2740017350155010001",
        "sender": {"id": sender},
        "recipient": {"id": recipient},
        "event_name": name,
        "message": {"msg_id": "m-1", **message},
        "timestamp": "1763800000000",
    }


def _known(oa_id: str):
    return lambda candidate: candidate == oa_id


@pytest.mark.parametrize("oa_sends", [True, False], ids=["sender-is-oa", "recipient-is-oa"])
@pytest.mark.parametrize("name", TWO_SIDED)
def test_the_known_oa_decides_either_way_round(name, oa_sends):
    sender, recipient = (OA, USER) if oa_sends else (USER, OA)
    payload = _event(name, sender, recipient)
    # It should name the known OA as the OA and the other side as the user.
    top = head(payload, is_oa=_known(OA))
    assert (top.oa_id, top.user_id) == (OA, USER)
    event = parse(payload, is_oa=_known(OA))
    assert (event.oa_id, event.user_id) == (OA, USER)
    # It should keep the conversation's key the same whichever way the event came.
    assert f"{top.oa_id}:{top.user_id}" == f"{OA}:{USER}"


@pytest.mark.parametrize("oa_sends", [True, False], ids=["sender-is-oa", "recipient-is-oa"])
@pytest.mark.parametrize("recipient", [PHONE, "+" + PHONE, HASHED, USER])
def test_a_zns_receipt_names_its_oa_and_the_phone_either_way_round(oa_sends, recipient):
    sender, to = (OA, recipient) if oa_sends else (recipient, OA)
    payload = _event("user_received_message", sender, to, tracking_id="order-1")
    event = parse(payload, is_oa=_known(OA))
    # It should attribute the OA, and never take the OA's id for the customer.
    assert (event.oa_id, event.user_id) == (OA, recipient)
    assert event.tracking_id == "order-1"


@pytest.mark.parametrize(
    ("name", "sender", "recipient", "tracking", "oa"),
    [
        # Nothing known: the side the documentation gives...
        ("user_send_text", USER, OA, "", OA),
        ("user_seen_message", USER, OA, "", OA),
        ("oa_send_text", OA, USER, "", OA),
        ("user_received_message", OA, PHONE, "order-1", OA),
        # ... unless it is a phone or its hash: a ZNS receipt the other way round.
        ("user_received_message", PHONE, OA, "order-1", OA),
        ("user_received_message", HASHED, OA, "order-1", OA),
    ],
)
def test_without_a_known_oa_it_reads_the_documented_side(name, sender, recipient, tracking, oa):
    extra = {"tracking_id": tracking} if tracking else {}
    for is_oa in (None, _known("not-this-app")):
        assert head(_event(name, sender, recipient, **extra), is_oa=is_oa).oa_id == oa


def test_a_flat_oa_id_is_the_oa_and_the_other_side_the_user():
    payload = _event("user_seen_message", OA, USER)
    payload["oa_id"] = OA
    assert head(payload).user_id == USER
    payload = _event("user_seen_message", USER, OA)
    payload["oa_id"] = OA
    assert (head(payload).oa_id, head(payload).user_id) == (OA, USER)
    assert oa_candidates(payload) == (OA, USER, OA)


def test_it_asks_about_the_documented_side_first():
    asked: list[str] = []

    def is_oa(candidate: str) -> bool:
        asked.append(candidate)
        return candidate == OA

    # It should need one question for an event the way the documentation has it.
    head(_event("user_send_text", USER, OA), is_oa=is_oa)
    assert asked == [OA]
    asked.clear()
    head(_event("user_seen_message", OA, USER), is_oa=is_oa)
    assert asked == [USER, OA]


def test_an_echo_says_whether_an_admin_wrote_it_in_zalos_tool():
    api = _event("oa_send_text", OA, USER, text="Chào anh")
    tool = _event("oa_send_text", OA, USER, text="Chào anh")
    tool["sender"]["admin_id"] = "9000000000000000001"
    assert parse(api).admin_id == ""
    assert parse(tool).admin_id == "9000000000000000001"


@pytest.mark.parametrize("oa_sends", [True, False], ids=["sender-is-oa", "recipient-is-oa"])
def test_a_flat_zns_receipt_reads_as_the_nested_one(oa_sends):
    # One source sends the ZNS receipt flat (API.md §3.6, CONFLICT): ids as strings,
    # msg_id, tracking_id and delivery_time at the top level.
    sender, recipient = (OA, PHONE) if oa_sends else (PHONE, OA)
    nested = _event("user_received_message", sender, recipient, tracking_id="order-1")
    nested["message"]["delivery_time"] = "1763800000500"
    flat = {
        "app_id": nested["app_id"],
        "sender": sender,
        "recipient": recipient,
        "event_name": "user_received_message",
        "msg_id": "m-1",
        "tracking_id": "order-1",
        "delivery_time": "1763800000500",
        "timestamp": nested["timestamp"],
    }
    for is_oa in (None, _known(OA)):
        theirs, ours = parse(flat, is_oa=is_oa), parse(nested, is_oa=is_oa)
        assert (theirs.oa_id, theirs.user_id) == (ours.oa_id, ours.user_id) == (OA, PHONE)
        assert (theirs.msg_id, theirs.tracking_id) == ("m-1", "order-1")
        assert theirs.receipt_time == ours.receipt_time is not None
