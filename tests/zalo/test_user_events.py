"""Reading the user-data webhooks (issue 16 §8, §12) and the tag and history answers."""

import json

from tests.helpers import FIXTURES
from zalohub.zalo import webhook
from zalohub.zalo.history import _message
from zalohub.zalo.tags import _names
from zalohub.zalo.user_events import feedback, tag_change


def test_tag_events_name_the_tag_and_its_users():
    add = webhook.parse(
        {
            "oa_id": "1",
            "event_name": "add_user_to_tag",
            "tag": {"user_ids": ["11", 22, "11", ""], "name": " Khách VIP "},
            "timestamp": "1763800010000",
        }
    )
    change = tag_change(add)
    # Ids as strings, once each, in Zalo's order; the name trimmed.
    assert change == type(change)("add_user_to_tag", "Khách VIP", ("11", "22"))
    removed = tag_change(
        webhook.parse({"oa_id": "1", "event_name": "remove_tag", "tag": {"name": "VIP"}})
    )
    assert removed.tag == "VIP" and removed.user_ids == ()
    # No tag object at all: no tag (the handler says so), not a crash.
    assert tag_change(webhook.parse({"event_name": "remove_tag"})).tag == ""


def test_feedback_reads_the_rating_and_the_rated_message():
    raw = json.loads((FIXTURES / "user_feedback__csat.json").read_text())
    answer = feedback(webhook.parse(raw))
    assert answer.msg_id == raw["message"]["msg_id"] and answer.rate == raw["message"]["rate"]
    assert answer.rating_type == "csat" and answer.feedbacks == tuple(raw["message"]["feedbacks"])
    broken = feedback(webhook.parse({"event_name": "user_feedback", "message": {"rate": "x"}}))
    assert broken.rate is None and broken.msg_id == ""


def test_tag_lists_are_read_as_names_in_either_shape():
    assert _names(["Khách Q1", "Khách Q2", "Khách Q1", ""]) == ("Khách Q1", "Khách Q2")
    assert _names([{"name": "A"}, {"tag_name": "B"}]) == ("A", "B")
    assert _names({"tags": ["C"]}) == ("C",)
    assert _names(None) == ()


def test_history_items_name_the_user_whichever_way_the_message_went():
    item = {
        "src": 0,
        "time": 1712765640000,
        "type": "photo",
        "message": "",
        "message_id": "m1",
        "from_id": "oa",
        "to_id": "u1",
        "to_display_name": "Mai",
        "url": "https://x/y.jpg",
    }
    read = _message(item)
    assert (read.from_user, read.user_id, read.user_name, read.kind) == (
        False,
        "u1",
        "Mai",
        "photo",
    )
    assert read.attachment_url == "https://x/y.jpg" and read.time.year == 2024
    assert _message({**item, "src": 1, "from_id": "u2", "time": "x"}).user_id == "u2"
