"""The kinds of send: each registers a sender that says how to call Zalo for it, how to
read a refusal, and whether a call whose outcome is unknown may be made again.

Ownership of a row comes from its kind (the outbound event's name), never from which
sweeper happens to look first: a claim, a retry, a recovery and a Resend all ask the
registry who sends this kind.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from zalohub.core.stored_text import Reason
from zalohub.events.models import EventAttempt, Message, ZaloEvent
from zalohub.zalo import ZaloError


@dataclass
class Attempt:
    """One claimed try at sending an outbound event, as the sender sees it."""

    event: ZaloEvent
    token: str  # the claim: every settle checks the row is still ours
    row: EventAttempt
    sender: "Sender"
    subject: Any = None  # what the sender loaded for the call (a TemplateSend, ...)

    @property
    def number(self) -> int:
        return self.event.attempts


@dataclass(frozen=True)
class Sent:
    msg_id: str
    sent_ms: int | None


@dataclass(frozen=True)
class Failure:
    """How a refusal that is not tried again is recorded."""

    category: str
    text: Reason | str  # a Reason is stored as such; a str as text, in its own language
    then: Callable[[], None] | None = None  # after the failure is stored (stop a bulk send)


def _nothing_loaded(event: ZaloEvent) -> None:
    return None


def _no_objection(attempt: Attempt) -> Reason | str | None:
    return None


def _every_call_counts(attempt: Attempt) -> bool:
    return True


@dataclass(frozen=True)
class Sender:
    kind: str
    event_names: frozenset[str]  # the outbound events of this kind
    message_kinds: frozenset[str]  # the messages Resend gives to this sender
    call: Callable[[Attempt, str], Sent]  # one call to Zalo, given the access token
    classify: Callable[[Attempt, ZaloError], Failure]  # a refusal not tried again
    # Zalo deduplicates the call (ZNS tracking_id): after a timeout, a gateway's 502/504
    # or a worker that died mid-call, calling again cannot deliver twice.
    retry_unknown: bool
    resend: Callable[[Message], ZaloEvent]  # a new attempt for a failed message
    load: Callable[[ZaloEvent], Any] = _nothing_loaded
    refuse: Callable[[Attempt], Reason | str | None] = _no_objection  # a reason not to call at all
    spends_call_budget: Callable[[Attempt], bool] = _every_call_counts


_by_kind: dict[str, Sender] = {}
_by_event: dict[str, Sender] = {}
_by_message_kind: dict[str, Sender] = {}


def register_sender(sender: Sender) -> Sender:
    """Called from an AppConfig.ready(); registering the same kind again replaces it."""
    unregister_sender(sender.kind)
    for name in sender.event_names:
        if name in _by_event:
            raise ImproperlyConfigured(f"{name} is sent by {_by_event[name].kind} already")
    for kind in sender.message_kinds:
        if kind in _by_message_kind:
            raise ImproperlyConfigured(f"{kind} is resent by {_by_message_kind[kind].kind}")
    _by_kind[sender.kind] = sender
    _by_event.update(dict.fromkeys(sender.event_names, sender))
    _by_message_kind.update(dict.fromkeys(sender.message_kinds, sender))
    return sender


def unregister_sender(kind: str) -> None:
    old = _by_kind.pop(kind, None)
    if old is not None:
        for name in old.event_names:
            _by_event.pop(name, None)
        for message_kind in old.message_kinds:
            _by_message_kind.pop(message_kind, None)


def sender_for_event(event_name: str) -> Sender | None:
    return _by_event.get(event_name)


def sender_for_message(message: Message) -> Sender | None:
    return _by_message_kind.get(message.kind)


def owned_event_names(kind: str | None = None) -> list[str]:
    """The event names a claim may take: one kind's, or every registered kind's."""
    if kind is not None:
        return sorted(_by_kind[kind].event_names)
    return sorted(_by_event)
