"""Control endpoints for webhooks, simulated customers, sent messages and receipts.

Same rules as control.py: JSON in and out, loopback clients only, never counted or
faulted. Delivery options accepted wherever an event is emitted: ``duplicate`` (extra
identical copies), ``delay`` (seconds before the first attempt), ``corrupt``
("signature", "body", "tampered" or "unsigned").
"""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from zalohub.sandbox import customers, payloads, people, pictures, responses
from zalohub.sandbox.control import BadRequest, _body, control
from zalohub.sandbox.customers import DeliveryOptions, Emitted
from zalohub.sandbox.state import SandboxState
from zalohub.sandbox.webhooks import CORRUPTIONS

MAX_WAIT = 60.0
MAX_DUPLICATES = 20


def _number(body: dict[str, Any], name: str, default: float | None) -> float | None:
    value = body.get(name, default)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise BadRequest(_("%(name)s must be a number of seconds, 0 or more.") % {"name": name})
    return float(value)


def _options(body: dict[str, Any]) -> DeliveryOptions:
    duplicate = body.get("duplicate", 0)
    if not isinstance(duplicate, int) or isinstance(duplicate, bool):
        duplicate = -1
    if not 0 <= duplicate <= MAX_DUPLICATES:
        raise BadRequest(
            _("duplicate must be a whole number from 0 to %(n)d.") % {"n": MAX_DUPLICATES}
        )
    corrupt = body.get("corrupt")
    if corrupt is not None and corrupt not in CORRUPTIONS:
        raise BadRequest(
            _("corrupt must be one of: %(modes)s.") % {"modes": ", ".join(CORRUPTIONS)}
        )
    return DeliveryOptions(
        duplicate=duplicate, delay=_number(body, "delay", 0.0) or 0.0, corrupt=corrupt
    )


def _emitted(items: list[Emitted]) -> HttpResponse:
    return responses.json({"emitted": [e.as_dict() for e in items]})


@control("GET", "POST")
def webhooks_view(request: HttpRequest, state: SandboxState) -> HttpResponse:
    """POST ``{"hub": url}`` or ``{"app_id", "url"}``, and/or ``time_factor``, ``timeout``,
    ``receipt_delay`` (null: receipts only on command), ``receipt_sender`` ("oa" or
    "user": the side receipts name the OA on), ``echo`` (oa_send_* for API sends),
    ``signing`` (how the MAC is made: one of webhooks.SIGNINGS, the documented first)."""
    if request.method == "POST":
        body = _body(request) or {}
        allowed = {"hub", "app_id", "url", "time_factor", "timeout", "receipt_delay"}
        allowed |= {"receipt_sender", "echo", "signing"}
        if set(body) - allowed:
            raise BadRequest(
                _("Webhook settings may have: %(fields)s.") % {"fields": ", ".join(sorted(allowed))}
            )
        settings: dict[str, Any] = {}
        for name in ("time_factor", "timeout"):
            if name in body:
                settings[name] = _number(body, name, None)
        if "receipt_delay" in body:
            settings["receipt_delay"] = _number(body, "receipt_delay", None)
        for name in ("receipt_sender", "echo", "signing"):
            if name in body:
                settings[name] = body[name]
        try:
            customers.configure_webhooks(
                state,
                hub=body.get("hub"),
                app_id=body.get("app_id"),
                url=body.get("url"),
                **settings,
            )
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
    return responses.json(customers.webhook_settings(state))


@control("GET")
def deliveries_view(request: HttpRequest, state: SandboxState) -> HttpResponse:
    """The delivery log; ``?wait=N`` first waits up to N s for every delivery to finish."""
    idle = True
    if "wait" in request.GET:
        try:
            wait = min(MAX_WAIT, max(0.0, float(request.GET["wait"])))
        except ValueError:
            raise BadRequest(_("wait must be a number of seconds.")) from None
        idle = state.webhooks.wait_idle(wait)
    found = state.webhooks.deliveries(
        app_id=request.GET.get("app_id") or None, event_name=request.GET.get("event_name") or None
    )
    return responses.json(
        {
            "idle": idle,
            "count": len(found),
            "pending": sum(1 for d in found if d.state == "pending"),
            "deliveries": [d.as_dict() for d in found],
        }
    )


@control("POST")
def emit_view(request: HttpRequest, state: SandboxState) -> HttpResponse:
    """Any event: ``{"oa_id", "payload": {...}, "app_id"?}`` plus delivery options.

    ``payload.app_id`` and ``payload.timestamp`` are filled in when missing.
    """
    body = _body(request) or {}
    oa_id, payload, app_id = str(body.get("oa_id", "")), body.get("payload"), body.get("app_id")
    if oa_id not in state.oas or not isinstance(payload, dict) or not payload.get("event_name"):
        raise BadRequest(_("Send a known oa_id and a payload with an event_name."))
    if app_id is not None and app_id not in state.oas[oa_id]["app_ids"]:
        raise BadRequest(_("That app is not linked to the OA."))
    stamp = str(int(state.now() * 1000))

    def build(app: str, by_app: str) -> dict[str, Any]:
        return {"app_id": app, **payload, "timestamp": payload.get("timestamp") or stamp}

    made = customers.emit(
        state,
        oa_id=oa_id,
        build=build,
        app_ids=[app_id] if app_id else None,
        options=_options(body),
    )
    return _emitted([Emitted(str(payload["event_name"]), "", made)])


@control("POST")
def customers_view(request: HttpRequest, state: SandboxState, action: str) -> HttpResponse:
    """``message`` (kind, text, quote_msg_id), ``follow``, ``unfollow`` (source),
    ``submit_info`` (info), ``profile`` (display_name, avatar): always with ``oa_id`` and
    ``user_id``."""
    body = _body(request) or {}
    oa_id, user_id = str(body.get("oa_id", "")), str(body.get("user_id", ""))
    options = _options(body)
    try:
        if action == "message":
            done = customers.customer_send_message(
                state,
                oa_id=oa_id,
                user_id=user_id,
                kind=str(body.get("kind", "text")),
                text=str(body.get("text") or ""),
                quote_msg_id=body.get("quote_msg_id") or None,
                options=options,
            )
        elif action in ("follow", "unfollow"):
            done = customers.customer_follow(
                state,
                oa_id=oa_id,
                user_id=user_id,
                followed=action == "follow",
                source=str(body.get("source") or "oa_profile"),
                options=options,
            )
        elif action == "submit_info":
            info = body.get("info")
            if info is not None and not isinstance(info, dict):
                raise BadRequest(_("info must be a JSON object."))
            done = customers.customer_submit_info(
                state, oa_id=oa_id, user_id=user_id, info=info, options=options
            )
        elif action == "profile":
            user = customers.customer_update_profile(
                state,
                oa_id=oa_id,
                user_id=user_id,
                display_name=str(body.get("display_name") or ""),
                avatar=str(body.get("avatar") or ""),
            )
            return responses.json({"user": user})
        elif action in people.ACTIONS:
            done = people.control_action(state, action, body, options)
        else:
            raise BadRequest(
                _(
                    "Unknown action; use message, follow, unfollow, submit_info, profile, "
                    "withdraw, feedback or tag."
                )
            )
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return _emitted([done])


@control("GET")
def messages_view(request: HttpRequest, state: SandboxState) -> HttpResponse:
    """What OAs sent through message/cs; ``?oa_id=`` and ``?user_id=`` narrow it."""
    with state.lock:
        found = [
            m.as_dict()
            for m in state.mailbox.sent_messages(
                oa_id=request.GET.get("oa_id") or None, user_id=request.GET.get("user_id") or None
            )
        ]
    return responses.json({"count": len(found), "messages": found})


@control("POST")
def receipts_view(request: HttpRequest, state: SandboxState) -> HttpResponse:
    """``{"message_ids"?, "oa_id"?, "user_id"?, "seen": true}``: received (and seen) now."""
    body = _body(request) or {}
    ids = body.get("message_ids")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        raise BadRequest(_("message_ids must be a list of message ids."))
    emitted = customers.send_receipts(
        state,
        message_ids=ids,
        oa_id=body.get("oa_id") or None,
        user_id=body.get("user_id") or None,
        seen=bool(body.get("seen", True)),
    )
    return _emitted(emitted)


def media(request: HttpRequest, name: str, ext: str) -> HttpResponse:
    """Placeholder bytes behind the URLs in simulated customers' attachments."""
    if ext == "pdf":
        return HttpResponse(payloads.PLACEHOLDER_PDF, content_type="application/pdf")
    if ext in ("jpg", "png", "gif"):
        # A real little picture (a PNG whatever the extension: browsers go by the bytes).
        small = ext == "png"  # stickers
        picture = pictures.landscape(name, 128 if small else 320, 128 if small else 240)
        response = HttpResponse(picture, content_type="image/png")
        response["Cache-Control"] = "public, max-age=86400"  # the same name, the same picture
        return response
    return HttpResponse(b"", content_type="application/octet-stream")
