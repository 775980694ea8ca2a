"""What Zalo's user-data webhooks say beyond the envelope (API.md §3.5), read from the
typed event's payload: tags (``add_user_to_tag``, ``remove_user_from_tag``,
``remove_tag``), the answer to a rating template (``user_feedback``) and a person's
request to have their data removed (``user_withdraw``).

Nothing else in the hub reads these events' keys.
"""

from dataclasses import dataclass, field
from typing import Any

from zalohub.zalo.webhook import WebhookEvent

TAG_EVENTS = ("add_user_to_tag", "remove_user_from_tag", "remove_tag")


@dataclass(frozen=True)
class TagChange:
    name: str  # add_user_to_tag, remove_user_from_tag or remove_tag
    tag: str
    user_ids: tuple[str, ...]  # the users tagged or untagged (none for remove_tag)


@dataclass(frozen=True)
class Feedback:
    msg_id: str  # the rating message it answers
    tracking_id: str
    rating_type: str  # "csat", ...
    option: str  # "five_emotions", ...
    rate: int | None
    note: str
    feedbacks: tuple[str, ...]
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


def _text(value: Any) -> str:
    return (
        str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    )


def tag_change(event: WebhookEvent) -> TagChange:
    """``tag:{user_ids:[…], name}``; a user id alone (``user_id``) is read too."""
    tag = event.payload.get("tag")
    tag = tag if isinstance(tag, dict) else {}
    ids = tag.get("user_ids")
    if not isinstance(ids, list):
        ids = [tag.get("user_id") or event.user_id]
    user_ids = tuple(dict.fromkeys(t for t in (_text(i) for i in ids) if t))
    name = _text(tag.get("name") or tag.get("tag_name"))
    return TagChange(name=event.name, tag=name, user_ids=user_ids)


def feedback(event: WebhookEvent) -> Feedback:
    """``message:{rating_type, option, note, rate, submit_time, msg_id, feedbacks,
    tracking_id}``: no user in it; the rating message it answers names them."""
    message = event.payload.get("message")
    message = message if isinstance(message, dict) else {}
    try:
        rate: int | None = int(str(message.get("rate")))
    except ValueError:
        rate = None
    given = message.get("feedbacks")
    return Feedback(
        msg_id=_text(message.get("msg_id")) or event.msg_id,
        tracking_id=_text(message.get("tracking_id")),
        rating_type=_text(message.get("rating_type")),
        option=_text(message.get("option")),
        rate=rate,
        note=_text(message.get("note")),
        feedbacks=tuple(t for t in (_text(f) for f in given) if t)
        if isinstance(given, list)
        else (),
        raw=dict(message),
    )
