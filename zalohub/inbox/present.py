"""How messages look in a thread: status badges, attachments, consecutive groups."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from zalohub.core.stored_text import shown_reason
from zalohub.events.models import Direction, Message, ZaloState
from zalohub.events.processing.retrying import Retrying, retries_of_messages
from zalohub.inbox.models import SentImage

GROUP_GAP = timedelta(minutes=5)
STATUS: dict[str, tuple[str, Any]] = {
    ZaloState.ON_QUEUE: ("pending", gettext_lazy("Pending")),
    ZaloState.SENT: ("sent", gettext_lazy("Sent")),
    ZaloState.DELIVERED: ("delivered", gettext_lazy("Delivered")),
    ZaloState.RECEIVED: ("delivered", gettext_lazy("Delivered")),
    ZaloState.READ: ("read", gettext_lazy("Read")),
    ZaloState.FAILED: ("failed", gettext_lazy("Failed")),
}


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


def status_tooltip(message: Message) -> str:
    state = message.zalo_state
    if state == ZaloState.FAILED:
        reason = shown_reason(message, "failure_reason")
        return reason or _("Zalo did not accept the message.")
    if state == ZaloState.ON_QUEUE:
        return _("Waiting to be sent to Zalo.")
    if state == ZaloState.SENT:
        return _("Accepted by Zalo at %s; not yet on the customer's phone.") % _when(
            message.sent_at
        )
    if state in (ZaloState.DELIVERED, ZaloState.RECEIVED):
        return _("Delivered at %s.") % _when(message.delivered_at or message.sent_at)
    if state == ZaloState.READ:
        return _("Read at %s.") % _when(message.read_at)
    return ""


def media(message: Message) -> dict[str, Any]:
    """The first attachment, flattened: url, thumbnail, name, size, description, lat/lng."""
    first = message.attachments[0] if message.attachments else {}
    if not isinstance(first, dict):
        first = {}
    payload = first["payload"] if isinstance(first.get("payload"), dict) else first
    # Every key is present (templates use them as filter arguments, which must exist).
    found: dict[str, Any] = {
        key: payload.get(key) or ""
        for key in ("url", "thumbnail", "name", "size", "description", "id", "type")
    }
    coords = payload.get("coordinates")
    coords = coords if isinstance(coords, dict) else {}
    found["latitude"] = coords.get("latitude") or ""
    found["longitude"] = coords.get("longitude") or ""
    for key in ("url", "thumbnail"):
        if not str(found[key]).startswith(("http://", "https://")):
            found[key] = ""  # only web links are shown or followed
    return found


@dataclass
class Bubble:
    message: Message
    media: dict[str, Any]
    status: str = ""
    status_label: str = ""
    tooltip: str = ""
    retrying: Retrying | None = None

    @property
    def can_resend(self) -> bool:
        return self.status == "failed"

    @property
    def state_key(self) -> str:
        """What the page compares to learn that this bubble changed (live_parts)."""
        return f"{self.status}.{self.retrying.attempts if self.retrying else ''}"


@dataclass
class Group:
    direction: str
    author: str
    started_at: datetime
    bubbles: list[Bubble] = field(default_factory=list)
    # Appended live: the page's last message whose group this one goes on (0: none).
    continues: int = 0

    @property
    def outbound(self) -> bool:
        return self.direction == Direction.OUTBOUND


def bubble(message: Message, retrying: Retrying | None = None, *, stored: bool = False) -> Bubble:
    status, label = STATUS.get(message.zalo_state, ("", ""))
    if message.direction != Direction.OUTBOUND:
        status, label = "", ""
    tooltip = status_tooltip(message) if status else ""
    if status == "pending" and retrying is not None:
        # Zalo failed and the send waits for its next try: say so, not just "Pending".
        label, tooltip = _("Retrying"), str(retrying)
    else:
        retrying = None
    shown = media(message)
    if stored and not shown["url"]:
        # An image an agent sent: Zalo gave no address, the hub kept a copy.
        shown["url"] = shown["thumbnail"] = reverse("inbox:sent_image", args=[message.pk])
    return Bubble(
        message=message,
        media=shown,
        status=status,
        status_label=str(label),
        tooltip=tooltip,
        retrying=retrying,
    )


def _author(message: Message, customer: str) -> str:
    if message.direction == Direction.INBOUND:
        return customer
    if message.sent_by_id and message.sent_by:
        return message.sent_by.get_full_name() or message.sent_by.get_username()
    return _("OA")


def same_group(last: Message, message: Message, customer: str) -> bool:
    return (
        last.direction == message.direction
        and _author(last, customer) == _author(message, customer)
        and message.created_at - last.created_at <= GROUP_GAP
    )


def group_messages(
    messages: list[Message], *, customer: str, after: Message | None = None
) -> list[Group]:
    """Consecutive messages from the same side and author, close in time, share a header.
    ``after``: the last message the page already shows, whose group the first may join."""
    groups: list[Group] = []
    retries = retries_of_messages(
        [
            m.pk
            for m in messages
            if m.direction == Direction.OUTBOUND and m.zalo_state == ZaloState.ON_QUEUE
        ]
    )
    stored = set(
        SentImage.objects.filter(
            message_id__in=[
                m.pk
                for m in messages
                if m.direction == Direction.OUTBOUND and m.kind == Message.Kind.IMAGE
            ]
        ).values_list("message_id", flat=True)
    )
    for message in messages:
        author = _author(message, customer)
        last = groups[-1] if groups else None
        if (
            last is None
            or last.direction != message.direction
            or last.author != author
            or message.created_at - last.bubbles[-1].message.created_at > GROUP_GAP
        ):
            last = Group(direction=message.direction, author=author, started_at=message.created_at)
            groups.append(last)
        last.bubbles.append(bubble(message, retries.get(message.pk), stored=message.pk in stored))
    if groups and after is not None and same_group(after, messages[0], customer):
        groups[0].continues = after.pk
    return groups


def describe_remaining(left: timedelta | None) -> str:
    """“2 days 3 hours”, “5 hours 10 minutes”, “12 minutes”: enough to plan a reply."""
    if left is None:
        return ""
    minutes = max(0, int(left.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(ngettext("%d day", "%d days", days) % days)
    if hours and len(parts) < 2:
        parts.append(ngettext("%d hour", "%d hours", hours) % hours)
    if not days and (mins or not parts):
        parts.append(ngettext("%d minute", "%d minutes", mins) % mins)
    return " ".join(parts)
