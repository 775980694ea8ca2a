"""What other apps hear from events, through declared hooks (STYLE.md §3b).

Apps above events subscribe in ``AppConfig.ready()``; nobody wraps or rewrites the
handler table. Subscribers run inside the transaction that writes the rows, once per
batch with every row the batch touched (a worker's claim of events, or a single
``Message.objects.create``), so the set-wise path stays a handful of statements however
many apps listen. With nobody subscribed nothing is collected. Anything slow or remote a
subscriber does belongs in ``transaction.on_commit``.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from zalohub.events.models import Message


@dataclass(frozen=True)
class StateChange:
    """A message's Zalo State changed: a receipt or Zalo's echo of our message moved it
    forward, our send was settled (Sent, Failed), Mark Error failed it, or Resend put a
    failed message back On Queue.

    Reported as the writer applied it: a concurrent receipt that got further may still
    win the row, which receipts only ever move forward."""

    message: Message
    previous: str
    state: str
    at: datetime


MessagesStored = Callable[[Sequence[Message]], None]
StatesChanged = Callable[[Sequence[StateChange]], None]

STORED_SUBSCRIBERS: list[MessagesStored] = []
STATE_SUBSCRIBERS: list[StatesChanged] = []


def on_message_stored(subscriber: MessagesStored) -> MessagesStored:
    """Call ``subscriber`` with the messages each batch stores, inbound and outbound."""
    if subscriber not in STORED_SUBSCRIBERS:
        STORED_SUBSCRIBERS.append(subscriber)
    return subscriber


def on_message_state_changed(subscriber: StatesChanged) -> StatesChanged:
    """Call ``subscriber`` with the Zalo State changes each batch makes, in order."""
    if subscriber not in STATE_SUBSCRIBERS:
        STATE_SUBSCRIBERS.append(subscriber)
    return subscriber


def state_changes_wanted() -> bool:
    """Whether a batch should keep its state changes (only when someone listens)."""
    return bool(STATE_SUBSCRIBERS)


def messages_stored(messages: Sequence[Message]) -> None:
    if messages:
        for subscriber in list(STORED_SUBSCRIBERS):
            subscriber(messages)


def states_changed(changes: Sequence[StateChange]) -> None:
    if changes:
        for subscriber in list(STATE_SUBSCRIBERS):
            subscriber(changes)


def state_changed(message: Message, *, previous: str, at: datetime) -> None:
    """One message's change, written one at a time (a send settled, an admin's action):
    a batch of one. ``message`` carries its new state."""
    if STATE_SUBSCRIBERS:
        states_changed([StateChange(message, previous=previous, state=message.zalo_state, at=at)])


def message_saved(sender: type, instance: Message, created: bool, **kwargs: Any) -> None:
    """A message created one at a time (a reply, a template send): a batch of one.
    Fixture loading (``raw``) stores rows, not events of the hub."""
    if created and not kwargs.get("raw"):
        messages_stored([instance])
