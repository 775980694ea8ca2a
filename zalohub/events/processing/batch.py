"""A claimed batch of events, handled set-wise.

Handlers still run one event at a time, in arrival order, but against the batch: what
they read (partner links, the messages receipts point at) is fetched for the whole batch
in a few queries before the first handler runs, and what they write (new messages,
Zalo State advances, what the links keep) is written for the whole batch in a few
statements after the last one, in the same transaction. Each change is applied to the
in-memory rows as the handler makes it, so a later event of the batch sees what an
earlier one did. A batch of one is the single-event path (the careful fallback,
anything outside a worker), so there is one way to handle an event.
"""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from zalohub.accounts.models import OfficialAccount
from zalohub.core.setwise import update_rows
from zalohub.events import hooks
from zalohub.events.models import ZALO_STATE_RANK, Message, ZaloEvent, ZaloState
from zalohub.events.processing import attribution
from zalohub.partners.models import ZaloPartnerLink
from zalohub.partners.resolution import (
    ZaloUser,
    following_changes,
    resolve_links,
    touch_changes,
)
from zalohub.zalo import catalogue, webhook
from zalohub.zalo.webhook import WebhookEvent

_current: ContextVar["Batch | None"] = ContextVar("zalohub_events_batch", default=None)


def current() -> "Batch | None":
    return _current.get()


def active() -> "Batch":
    """The batch being handled; handlers run through ``dispatch``, which always opens one."""
    batch = _current.get()
    if batch is None:
        raise RuntimeError("event handlers run inside a batch (call dispatch)")
    return batch


class BadPayload(Exception):
    """The stored body is not a JSON object; ``json_error`` says why, if not JSON at all."""

    def __init__(self, json_error: str = "") -> None:
        super().__init__(json_error or "not a JSON object")
        self.json_error = json_error


def _links_user(event_name: str) -> bool:
    """Events whose Zalo user gets a partner link (a shadow contact if unknown). Not a
    group's, an anonymous chat's or another recorded family's (``oa_send_group_*`` names
    a group, ``anonymous_send_*`` no OA follower)."""
    if catalogue.family(event_name):
        return False
    return event_name.startswith(("user_send_", "oa_send_")) or event_name in (
        "follow",
        "unfollow",
        "user_submit_info",
    )


class Batch:
    def __init__(self, events: list[ZaloEvent]) -> None:
        self.events = events
        self._wires: dict[int, WebhookEvent | BadPayload] = {}
        self.links: dict[tuple[int, str], ZaloPartnerLink] = {}
        # (OA pk, Zalo msg id) -> the message, or None when known not to exist.
        self._messages: dict[tuple[int, str], Message | None] = {}
        self.new_messages: list[Message] = []
        self._message_changes: dict[int, dict[str, Any]] = {}
        self._message_guards: dict[int, tuple[str, list[str]]] = {}
        self._state_changes: list[hooks.StateChange] = []
        self._link_changes: dict[int, dict[str, Any]] = {}
        self._once: set[Any] = set()
        # (app pk, OA id) -> the OA, for events stored without theirs (attribution).
        self.oas: dict[tuple[int, str], OfficialAccount] = {}
        self.event_changes: dict[int, dict[str, Any]] = {}

    # --- reading ---------------------------------------------------------------------

    def wire(self, event: ZaloEvent) -> WebhookEvent:
        """The event's payload read into a typed event, once; BadPayload if it is not a
        JSON object. Receipt times are capped at the event's arrival; the OA is told from
        the user by the OAs the hub knows (``attribution``)."""
        key = id(event)
        if key not in self._wires:
            payload = _payload(event)
            if isinstance(payload, BadPayload):
                self._wires[key] = payload
            else:
                known = attribution.known_oas(self, event)
                wire = webhook.parse(
                    payload,
                    received_at=event.received_at or timezone.now(),
                    is_oa=lambda oa_id: oa_id in known,
                    headers=event.headers,
                )
                attribution.attribute(self, event, wire, known)
                self._wires[key] = wire
        found = self._wires[key]
        if isinstance(found, BadPayload):
            raise found
        return found

    def payloads(self) -> Iterator[tuple[ZaloEvent, dict[str, Any]]]:
        """The events whose payload is a JSON object, with it."""
        for event in self.events:
            found = _payload(event)
            if not isinstance(found, BadPayload):
                yield event, found

    def _parsed(self) -> Iterator[tuple[ZaloEvent, WebhookEvent]]:
        for event in self.events:
            try:
                yield event, self.wire(event)
            except BadPayload:
                continue  # its handler says so when it runs

    def prepare(self) -> None:
        """Fetch what the batch's handlers will read: the OAs of events stored before
        their OA was known, the messages named by msg_id and the partner links of the
        users (created for users met for the first time)."""
        attribution.fetch_oas(self)
        wanted: dict[int, set[str]] = {}
        for event, wire in self._parsed():
            if event.oa_id is not None:
                wanted.setdefault(event.oa_id, set()).update(wire.msg_ids)
        self._fetch_messages(wanted)
        users: list[tuple[Any, ZaloUser, datetime | None]] = []
        for event, wire in self._parsed():
            if event.oa is None or not event.zalo_user_id or not _links_user(event.event_name):
                continue
            named = wire.msg_ids
            if named and self._messages.get((event.oa.pk, named[0])) is not None:
                continue  # a message already stored (ours, or a redelivery): no new link
            user = ZaloUser(zalo_user_id=event.zalo_user_id, user_id_by_app=wire.user_id_by_app)
            users.append((event.oa, user, event_time(event)))
        self.links.update(resolve_links(users))

    def _fetch_messages(self, wanted: dict[int, set[str]]) -> None:
        query = Q()
        for oa_id, msg_ids in wanted.items():
            for msg_id in msg_ids:
                self._messages.setdefault((oa_id, msg_id), None)
            if msg_ids:
                query |= Q(oa_id=oa_id, zalo_msg_id__in=sorted(msg_ids))
        if query:
            for message in Message.objects.filter(query):
                self._messages[(message.oa_id, message.zalo_msg_id)] = message

    def message(self, oa_id: int | None, msg_id: str) -> Message | None:
        """The OA's message with this Zalo msg id: stored, or stored by this batch."""
        if not msg_id or oa_id is None:
            return None
        if (oa_id, msg_id) not in self._messages:
            self._fetch_messages({oa_id: {msg_id}})
        return self._messages[(oa_id, msg_id)]

    def link(self, oa: Any, user: ZaloUser, when: datetime | None) -> ZaloPartnerLink:
        """The user's link, keeping what this event says about them."""
        key = (oa.pk, user.zalo_user_id)
        link = self.links.get(key)
        if link is None:
            link = self.links[key] = resolve_links([(oa, user, when)])[key]
        self._change_link(link, touch_changes(link, user, when))
        return link

    # --- writing -----------------------------------------------------------------------

    def add_message(self, message: Message) -> Message:
        self.new_messages.append(message)
        if message.zalo_msg_id:
            self._messages[(message.oa_id, message.zalo_msg_id)] = message
        return message

    def advance(self, message: Message, state: str, when: datetime) -> bool:
        """Move a message's Zalo State forward (receipts never move it back)."""
        if message.zalo_state == ZaloState.FAILED and state != ZaloState.READ:
            return False
        if ZALO_STATE_RANK.get(state, 0) <= ZALO_STATE_RANK.get(message.zalo_state, -1):
            return False
        if hooks.state_changes_wanted():
            self._state_changes.append(
                hooks.StateChange(message, previous=message.zalo_state, state=state, at=when)
            )
        fields: dict[str, Any] = {"zalo_state": state}
        if state in (ZaloState.DELIVERED, ZaloState.RECEIVED) and not message.delivered_at:
            fields["delivered_at"] = when
        if state == ZaloState.READ:
            fields["read_at"] = when
            if not message.delivered_at:
                fields["delivered_at"] = when
        for name, value in fields.items():
            setattr(message, name, value)
        if message.pk is not None:  # a message new in this batch is inserted as it ends
            self._message_changes.setdefault(message.pk, {}).update(fields)
            # Conditional: a concurrent receipt that got further wins.
            below = [s for s, r in ZALO_STATE_RANK.items() if r < ZALO_STATE_RANK[state]]
            self._message_guards[message.pk] = ("zalo_state", [*below, ""])
        return True

    def take_msg_id(self, message: Message, msg_id: str) -> Message:
        """Give our own send the msg_id Zalo's echo of it names (the echo came before
        the send's answer was kept); written with the state the echo moves it to."""
        message.zalo_msg_id = msg_id
        self._messages[(message.oa_id, msg_id)] = message
        if message.pk is not None:
            self._message_changes.setdefault(message.pk, {})["zalo_msg_id"] = msg_id
        return message

    def set_following(self, link: ZaloPartnerLink, *, following: bool, when: datetime) -> None:
        self._change_link(link, following_changes(link, following=following, when=when))

    def _change_link(self, link: ZaloPartnerLink, fields: dict[str, Any]) -> None:
        if fields:
            self._link_changes.setdefault(link.pk, {}).update(fields)

    def on_commit_once(self, key: Any, callback: Callable[[], object]) -> None:
        """Run ``callback`` once the batch commits, however many events asked for it."""
        if key not in self._once:
            self._once.add(key)
            transaction.on_commit(callback)

    def flush(self) -> None:
        """Write what the handlers changed: a handful of statements for the batch."""
        update_rows(ZaloEvent, self.event_changes)
        update_rows(ZaloPartnerLink, self._link_changes)
        if self.new_messages:
            Message.objects.bulk_create(self.new_messages)
            hooks.messages_stored(self.new_messages)
        update_rows(Message, self._message_changes, only_if=self._message_guards)
        hooks.states_changed(self._state_changes)
        self._link_changes, self.new_messages, self.event_changes = {}, [], {}
        self._message_changes, self._message_guards = {}, {}
        self._state_changes = []


def _payload(event: ZaloEvent) -> dict[str, Any] | BadPayload:
    """The stored body as a JSON object, read once per event row."""
    cached: dict[str, Any] | BadPayload | None = event.__dict__.get("_zalohub_payload")
    if cached is None:
        try:
            parsed = json.loads(event.raw_body)
        except json.JSONDecodeError as exc:
            cached = BadPayload(str(exc))
        else:
            cached = parsed if isinstance(parsed, dict) else BadPayload()
        event.__dict__["_zalohub_payload"] = cached
    return cached


@contextmanager
def handling(events: list[ZaloEvent]) -> Iterator[Batch]:
    """Handle ``events`` as one batch: prepared on entry, written out on a clean exit
    (call inside the transaction that finishes the events)."""
    batch = Batch(events)
    token = _current.set(batch)
    try:
        batch.prepare()
        yield batch
        batch.flush()
    finally:
        _current.reset(token)


def event_time(event: ZaloEvent) -> datetime:
    """When the event happened, for ordering (a conversation's last message, a thread):
    the time it says, but never after it reached us. A signed payload may claim any
    time, and one far in the future would pin its conversation to the top of the inbox."""
    received = event.received_at or timezone.now()
    return webhook.capped(event.event_time, received) or received
