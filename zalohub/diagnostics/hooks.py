"""Recompute an OA's health as soon as something that may fix it happens, through hooks
the lower apps declare (they never import diagnostics):

- accounts.signals.oa_fixed: authorized again, token stored after a failure, ZBS quota
  read with some left, a send Zalo accepted (an outage is over);
- post_save of ZaloApp: its OA secret key (or anything else) changed; where Zalo takes a
  request for a test delivery (the sandbox), the self-test runs first, so the fixed key
  is proven at once;
- events.hooks.on_message_stored: messages from Zalo arrive again (Zalo delivers). The
  hub's own replies and sends are stored too, before Zalo has seen them: they prove
  nothing, and a send Zalo accepts is reported through oa_fixed."""

from collections.abc import Sequence
from typing import Any

from django.db.models.signals import post_save

from zalohub.accounts.models import ZaloApp
from zalohub.accounts.signals import oa_fixed
from zalohub.events.hooks import on_message_stored
from zalohub.events.models import Direction, Message


def _on_oa_fixed(sender: Any, oa_id: int, reason: str = "", **kwargs: Any) -> None:
    from zalohub.diagnostics.services import health_refresh_after_fix

    health_refresh_after_fix(oa_id=oa_id, reason=reason)


def _on_app_saved(sender: Any, instance: ZaloApp, created: bool, **kwargs: Any) -> None:
    if created or kwargs.get("raw"):
        return
    from zalohub.diagnostics.models import HealthSnapshot, Level
    from zalohub.diagnostics.probe import webhook_selftest, zalo_can_deliver_on_request
    from zalohub.diagnostics.services import health_refresh_after_fix

    unhealthy = (
        HealthSnapshot.objects.filter(oa__app=instance)
        .exclude(level=Level.GREEN)
        .select_related("oa__app")
    )
    for snapshot in unhealthy:
        oa = snapshot.oa
        if zalo_can_deliver_on_request() and oa.status == oa.Status.CONNECTED:
            webhook_selftest(oa=oa)  # asks Zalo and returns; its failures land on its row
        health_refresh_after_fix(oa_id=oa.pk, reason="app saved")


# What Zalo delivering messages again can fix.
DELIVERY = frozenset({"webhook"})


def _on_messages_stored(messages: Sequence[Message]) -> None:
    from zalohub.diagnostics.services import health_refresh_after_fix

    # From Zalo: a customer's message, or Zalo's echo of one the OA sent elsewhere (it
    # carries Zalo's msg_id from the start; ours get it only once Zalo accepts them).
    delivered = {m.oa_id for m in messages if m.direction == Direction.INBOUND or m.zalo_msg_id}
    for oa_id in sorted(delivered):
        health_refresh_after_fix(oa_id=oa_id, reason="messages arrived", only_if=DELIVERY)


def connect() -> None:
    oa_fixed.connect(_on_oa_fixed, dispatch_uid="diagnostics.oa_fixed")
    post_save.connect(_on_app_saved, sender=ZaloApp, dispatch_uid="diagnostics.app_saved")
    on_message_stored(_on_messages_stored)
