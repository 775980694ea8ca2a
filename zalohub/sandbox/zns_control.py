"""Control endpoints for ZBS: the reviewer, quality, quotas, refusals, ZNS receipts.

``/_sandbox/zns/<action>``, JSON in and out, loopback only (see control.py):

- ``state`` (GET): templates, quotas, sends, refusals, the reviewer's settings.
- ``review``: ``template_id``, ``decision`` ("approve" | "reject"), ``reason``.
- ``reviewer``: ``delay`` (seconds after a submit, null: on command only) and ``queue``
  (decisions for the next reviews, each ``{decision, reason}``).
- ``status``: ``template_id``, ``status`` (ENABLE, REJECT, DISABLE, ...), ``reason``.
- ``quality``: ``template_id``, ``quality`` (HIGH, MEDIUM, LOW, UNDEFINED).
- ``oa_quality``: ``oa_id``, ``current`` (48 h) and ``week`` (7 days), as ``GET /quality``
  answers them.
- ``template_quota``: ``template_id``, ``daily``, ``disable``.
- ``quota``: ``oa_id``, ``daily`` and/or ``remaining``.
- ``refuse``: ``recipient`` (a phone 84… or a user id) and the Zalo ``code`` its sends
  get (-141 refused ZNS from this OA, -118 no Zalo account, ...); ``code`` 0 clears.
- ``deliver``: ZNS receipts now for every undelivered send (of ``oa_id``, if given).
"""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from zalohub.sandbox import responses, reviewer, zns_quality
from zalohub.sandbox.control import BadRequest, _body, control
from zalohub.sandbox.customers import Emitted
from zalohub.sandbox.state import SandboxState, get_state


def _emitted(items: list[Emitted | None]) -> HttpResponse:
    return responses.json({"emitted": [e.as_dict() for e in items if e is not None]})


def _int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest(_("%(name)s must be a whole number.") % {"name": name})
    return value


@control("GET", "POST")
def zns_view(request: HttpRequest, state: SandboxState, action: str) -> HttpResponse:
    if action == "state":
        with state.lock:
            return responses.json(state.zns.snapshot())
    if request.method != "POST":
        return responses.json({"error": _("Method not allowed.")}, status=405)
    body = _body(request) or {}
    template_id = str(body.get("template_id") or "")
    try:
        if action == "review":
            return _emitted(
                [
                    reviewer.review(
                        state,
                        template_id=template_id,
                        decision=body.get("decision"),
                        reason=str(body.get("reason") or ""),
                    )
                ]
            )
        if action == "reviewer":
            delay = body.get("delay")
            if delay is not None and (not isinstance(delay, int | float) or delay < 0):
                raise BadRequest(_("delay must be a number of seconds, 0 or more."))
            with state.lock:
                state.zns.review.delay = None if delay is None else float(delay)
                state.zns.review.queue = []
            reviewer.queue_decisions(state, list(body.get("queue") or []))
            return responses.json({"delay": delay, "queued": len(body.get("queue") or [])})
        if action == "status":
            return _emitted(
                [
                    reviewer.set_status(
                        state,
                        template_id=template_id,
                        status=str(body.get("status") or ""),
                        reason=str(body.get("reason") or ""),
                    )
                ]
            )
        if action == "quality":
            done = reviewer.set_quality(
                state, template_id=template_id, quality=str(body.get("quality") or "")
            )
            return _emitted(list(done))
        if action == "oa_quality":
            week = body.get("week")
            qualities = zns_quality.set_oa_quality(
                state,
                oa_id=str(body.get("oa_id") or ""),
                current=str(body.get("current") or ""),
                week=None if week is None else str(week),
            )
            return responses.json(qualities)
        if action == "template_quota":
            done = reviewer.set_template_quota(
                state,
                template_id=template_id,
                daily=_int(body, "daily") or 0,
                disable=bool(body.get("disable")),
            )
            return _emitted(list(done))
        if action == "quota":
            quota = reviewer.set_daily_quota(
                state,
                oa_id=str(body.get("oa_id") or ""),
                daily=_int(body, "daily"),
                remaining=_int(body, "remaining"),
            )
            return _emitted([quota])
        if action == "refuse":
            recipient, code = str(body.get("recipient") or ""), _int(body, "code") or 0
            with state.lock:
                if code:
                    state.zns.refusals[recipient] = code
                else:
                    state.zns.refusals.pop(recipient, None)
            return responses.json({"refusals": dict(state.zns.refusals)})
        if action == "deliver":
            return _emitted(list(reviewer.deliver_all(state, body.get("oa_id") or None)))
    except (reviewer.ReviewError, ValueError) as exc:
        raise BadRequest(str(exc)) from None
    return responses.json({"error": _("Unknown action.")}, status=404)


def preview(request: HttpRequest, template_id: str) -> HttpResponse:
    """The page a template's ``previewUrl`` names (Zalo's znspreview): its name and text."""
    state = get_state()
    with state.lock:
        found = state.zns.find_template(template_id)
    if found is None:
        return responses.not_found(request)
    template = found[1]
    body = reviewer._body_text(template)
    page = format_html(
        "<!doctype html><html lang='vi'><meta charset='utf-8'><title>{}</title>"
        "<h1>{}</h1><p>{}</p></html>",
        template["templateName"],
        template["templateName"],
        body,
    )
    return HttpResponse(page, content_type="text/html; charset=utf-8")
