"""Simulated customers: they write to an OA, follow it, fill forms, and read what it sent.

Each action changes the world as Zalo would (last interaction, follower flag, shared
info) and emits the signed webhook to every app linked to the OA that has a webhook
URL. Receipts for the OA's own messages (``user_received_message`` then
``user_seen_message``) follow a send automatically after ``receipt_delay`` seconds, or
when ``send_receipts`` is called.

Tests and the ``simulate`` command call these functions (or their control endpoints,
``/_sandbox/customers/<action>`` and ``/_sandbox/messages/receipts``).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zalohub.sandbox import payloads
from zalohub.sandbox.mailbox import InboundMessage, SentMessage, new_msg_id
from zalohub.sandbox.state import SandboxState
from zalohub.sandbox.webhooks import Delivery, check_target

# Builds the event for one app: (app_id, user_id_by_app) -> payload.
EventBuilder = Callable[[str, str], dict[str, Any]]


class UnknownCustomer(ValueError):
    pass


@dataclass(frozen=True)
class DeliveryOptions:
    duplicate: int = 0  # extra identical copies (Zalo delivers at least once)
    delay: float = 0.0  # seconds before the first attempt
    corrupt: str | None = None  # see webhooks.CORRUPTIONS


@dataclass
class Emitted:
    event_name: str
    msg_id: str = ""
    deliveries: list[Delivery] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_name": self.event_name,
            "msg_id": self.msg_id,
            "deliveries": [d.id for d in self.deliveries],
        }


def _ms(state: SandboxState) -> str:
    return str(int(state.now() * 1000))


def configure_webhooks(
    state: SandboxState,
    *,
    hub: str | None = None,
    app_id: str | None = None,
    url: str | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """Point apps' webhook URLs at a hub and/or change the emitter's settings.

    ``hub="http://127.0.0.1:8000"`` sets every app (or only ``app_id``) to
    ``<hub>/zalo/webhook/<app_id>/``; ``url`` sets one app's URL verbatim ("" clears).
    ``settings``: ``time_factor``, ``timeout``, ``receipt_delay`` (None: on command),
    ``receipt_sender`` ("oa" or "user"), ``echo``, ``signing`` (see webhooks.WebhookConfig).
    """
    if app_id is not None and app_id not in state.apps:
        raise ValueError(f"unknown app {app_id}")
    targets: dict[str, str] = {}
    if hub is not None:
        check_target(hub)
        for one in [app_id] if app_id else list(state.apps):
            targets[one] = f"{hub.rstrip('/')}/zalo/webhook/{one}/"
    if url is not None:
        if app_id is None:
            raise ValueError("url needs the app_id it is for")
        targets[app_id] = check_target(url) if url else ""
    state.webhooks.config.update(**settings)
    with state.changing():
        for one, target in targets.items():
            state.apps[one]["webhook_url"] = target
    return webhook_settings(state)


def webhook_settings(state: SandboxState) -> dict[str, Any]:
    config = state.webhooks.config
    with state.lock:
        targets = {a: app["webhook_url"] for a, app in state.apps.items()}
    return {
        "targets": targets,
        "unsubscribed": sorted(a for a, app in state.apps.items() if app.get("unsubscribed")),
        "time_factor": config.time_factor,
        "timeout": config.timeout,
        "receipt_delay": config.receipt_delay,
        "receipt_sender": config.receipt_sender,
        "echo": config.echo,
        "signing": config.signing,
        "pending": state.webhooks.pending(),
    }


def emit(
    state: SandboxState,
    *,
    oa_id: str,
    build: EventBuilder,
    user: dict[str, Any] | None = None,
    app_ids: list[str] | None = None,
    options: DeliveryOptions | None = None,
) -> list[Delivery]:
    """Sign and queue an event for each app linked to ``oa_id`` (or just ``app_ids``)."""
    options = options or DeliveryOptions()
    with state.lock:
        apps = [state.apps[a] for a in (app_ids or state.oas[oa_id]["app_ids"]) if a in state.apps]
    made: list[Delivery] = []
    for app in apps:
        by_app = (user or {}).get("user_id_by_app", {}).get(app["app_id"], "")
        made += state.webhooks.deliver(
            app_id=app["app_id"],
            oa_id=oa_id,
            url="" if app.get("unsubscribed") else app["webhook_url"],
            payload=build(app["app_id"], by_app),
            oa_secret_key=app["oa_secret_key"],
            app_secret_key=app["secret_key"],
            duplicate=options.duplicate,
            delay=options.delay,
            corrupt=options.corrupt,
        )
    return made


def _customer(state: SandboxState, oa_id: str, user_id: str) -> dict[str, Any]:
    user = state.users.get(oa_id, {}).get(user_id)
    if user is None:
        raise UnknownCustomer(f"OA {oa_id} has no user {user_id}")
    return user


def customer_update_profile(
    state: SandboxState, *, oa_id: str, user_id: str, display_name: str = "", avatar: str = ""
) -> dict[str, Any]:
    """The customer changes their Zalo name or avatar: no event, only user detail shows it
    (so a hub notices only when it syncs the profile). Zalo names one person the same way
    in every OA, so every record of the same person changes."""
    with state.changing():
        person = _customer(state, oa_id, user_id)["person"]
        for per_oa in state.users.values():
            for user in per_oa.values():
                if user["person"] == person:
                    if display_name:
                        user["display_name"] = display_name
                    if avatar:
                        user["avatar"] = avatar
        return dict(_customer(state, oa_id, user_id))


def customer_send_message(
    state: SandboxState,
    *,
    oa_id: str,
    user_id: str,
    kind: str = "text",
    text: str = "",
    quote_msg_id: str | None = None,
    attachment: dict[str, Any] | None = None,
    options: DeliveryOptions | None = None,
) -> Emitted:
    """The customer writes to the OA: ``user_send_<kind>``, signed, to each linked app."""
    if kind not in payloads.KINDS:
        raise ValueError(f"unknown message kind {kind!r}; expected one of {payloads.KINDS}")
    msg_id = new_msg_id()
    if kind != "text" and attachment is None:
        attachment = payloads.default_attachment(
            kind, base=state.base_url, msg_id=msg_id, text=text
        )
    event_text = text or ("Xin chào, tôi cần hỗ trợ." if kind == "text" else "")
    with state.changing():
        user = _customer(state, oa_id, user_id)
        user["last_interaction"] = int(state.now())  # a message is an interaction (§2.4)
        stamp = _ms(state)
        state.mailbox.record_inbound(
            InboundMessage(msg_id, oa_id, user_id, f"user_send_{kind}", int(stamp), event_text)
        )

    def build(app_id: str, by_app: str) -> dict[str, Any]:
        return payloads.user_send(
            app_id=app_id,
            oa_id=oa_id,
            user_id=user_id,
            by_app=by_app,
            kind=kind,
            msg_id=msg_id,
            timestamp=stamp,
            text=event_text,
            attachment=attachment,
            quote_msg_id=quote_msg_id,
        )

    deliveries = emit(state, oa_id=oa_id, build=build, user=user, options=options)
    return Emitted(f"user_send_{kind}", msg_id, deliveries)


def customer_follow(
    state: SandboxState,
    *,
    oa_id: str,
    user_id: str,
    followed: bool = True,
    source: str = "oa_profile",
    options: DeliveryOptions | None = None,
) -> Emitted:
    """``follow`` / ``unfollow``; following counts as an interaction."""
    with state.changing():
        user = _customer(state, oa_id, user_id)
        if bool(user["is_follower"]) != followed:
            state.oas[oa_id]["num_follower"] = max(
                0, int(state.oas[oa_id]["num_follower"]) + (1 if followed else -1)
            )
        user["is_follower"] = followed
        if followed:
            user["last_interaction"] = int(state.now())
        stamp = _ms(state)

    def build(app_id: str, by_app: str) -> dict[str, Any]:
        return payloads.follow(
            app_id=app_id,
            oa_id=oa_id,
            user_id=user_id,
            by_app=by_app,
            followed=followed,
            source=source,
            timestamp=stamp,
        )

    deliveries = emit(state, oa_id=oa_id, build=build, user=user, options=options)
    return Emitted("follow" if followed else "unfollow", "", deliveries)


def customer_submit_info(
    state: SandboxState,
    *,
    oa_id: str,
    user_id: str,
    info: dict[str, Any] | None = None,
    options: DeliveryOptions | None = None,
) -> Emitted:
    """``user_submit_info`` (current shape by default); the OA's user detail shows it."""
    with state.changing():
        user = _customer(state, oa_id, user_id)
        shared = user["shared_info"]
        if info is None:
            info = {
                "name": user["display_name"],
                "phone": shared.get("phone") or "84900000" + user_id[-3:],
                "user_dob": "01/01/1990",
                # Zalo sends the gender in Vietnamese (the published sample: "Nam").
                "gender": "Nam",
                "full_address": {
                    "user_city": shared.get("city") or "Hồ Chí Minh",
                    "user_ward": "Bến Nghé",
                    "user_address": shared.get("address") or "1 Lê Lợi",
                },
            }
        address = info["full_address"] if isinstance(info.get("full_address"), dict) else {}
        for key, value in (
            ("name", info.get("name")),
            ("phone", info.get("phone")),
            ("address", address.get("user_address") or info.get("address")),
            ("city", address.get("user_city") or info.get("city")),
            ("district", info.get("district")),
        ):
            if value:
                shared[key] = str(value)
        user["last_interaction"] = int(state.now())
        stamp = _ms(state)

    def build(app_id: str, by_app: str) -> dict[str, Any]:
        return payloads.submit_info(
            app_id=app_id,
            oa_id=oa_id,
            user_id=user_id,
            by_app=by_app,
            info=info or {},
            timestamp=stamp,
        )

    deliveries = emit(state, oa_id=oa_id, build=build, user=user, options=options)
    return Emitted("user_submit_info", "", deliveries)


# --- receipts for the OA's messages -------------------------------------------------------
def _receipt(state: SandboxState, sent: SentMessage, seen_ids: list[str] | None) -> Emitted:
    with state.lock:
        user = state.users.get(sent.oa_id, {}).get(sent.user_id) or {}
        stamp = _ms(state)

    oa_sends = state.webhooks.config.receipt_sender == "oa"

    def build(app_id: str, by_app: str) -> dict[str, Any]:
        common = {"app_id": app_id, "oa_id": sent.oa_id, "user_id": sent.user_id}
        if seen_ids is None:
            return payloads.user_received(
                **common,
                by_app=by_app,
                msg_id=sent.message_id,
                timestamp=stamp,
                delivery_time=stamp,
                oa_sends=oa_sends,
            )
        return payloads.user_seen(
            **common, by_app=by_app, msg_ids=seen_ids, timestamp=stamp, oa_sends=oa_sends
        )

    # Read receipts go only to the app that sent the message (API.md §3.4).
    deliveries = emit(state, oa_id=sent.oa_id, build=build, user=user, app_ids=[sent.app_id])
    name = "user_received_message" if seen_ids is None else "user_seen_message"
    return Emitted(name, sent.message_id, deliveries)


def mark_received(state: SandboxState, message_id: str) -> Emitted | None:
    """The phone got the message: ``user_received_message`` (once per message)."""
    with state.lock:
        sent = state.mailbox.find_sent(message_id)
        if sent is None or sent.status != "sent":
            return None
        sent.status, sent.received_time = "received", int(state.now() * 1000)
    return _receipt(state, sent, None)


def mark_seen(state: SandboxState, message_ids: list[str]) -> list[Emitted]:
    """The customer read them: ``user_seen_message`` per conversation, ids in a list.

    A message not yet marked received is received first, so the hub sees Delivered
    before Read, as on a phone.
    """
    emitted: list[Emitted] = []
    groups: dict[tuple[str, str, str], list[SentMessage]] = {}
    for message_id in message_ids:
        if got := mark_received(state, message_id):
            emitted.append(got)
        with state.lock:
            sent = state.mailbox.find_sent(message_id)
            if sent is None or sent.status == "seen":
                continue
            sent.status, sent.seen_time = "seen", int(state.now() * 1000)
        groups.setdefault((sent.oa_id, sent.user_id, sent.app_id), []).append(sent)
    for messages in groups.values():
        emitted.append(_receipt(state, messages[-1], [m.message_id for m in messages]))
    return emitted


def send_receipts(
    state: SandboxState,
    *,
    message_ids: list[str] | None = None,
    oa_id: str | None = None,
    user_id: str | None = None,
    seen: bool = True,
) -> list[Emitted]:
    """Receipts now for the named messages (default: every message not yet seen)."""
    with state.lock:
        if message_ids is None:
            message_ids = [
                m.message_id
                for m in state.mailbox.sent_messages(oa_id=oa_id, user_id=user_id)
                if (m.status != "seen" if seen else m.status == "sent")
            ]
    if seen:
        return mark_seen(state, message_ids)
    return [e for e in (mark_received(state, m) for m in message_ids) if e is not None]


def schedule_receipts(state: SandboxState, sent: SentMessage) -> None:
    """After a send: received after ``receipt_delay``, seen after twice that (if set)."""
    delay = state.webhooks.config.receipt_delay
    if delay is None:
        return
    state.webhooks.call_later(delay, lambda: mark_received(state, sent.message_id))
    state.webhooks.call_later(2 * delay, lambda: mark_seen(state, [sent.message_id]))
