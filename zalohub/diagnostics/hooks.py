"""Recompute an OA's health as soon as something that may fix it happens, through hooks
the lower apps declare (they never import diagnostics):

- accounts.signals.oa_fixed: authorized again, token stored after a failure, ZBS quota
  read with some left, a send Zalo accepted (an outage is over);
- post_save of ZaloApp: its OA secret key (or anything else) changed; where Zalo takes a
  request for a test delivery (the sandbox), the self-test runs first, so the fixed key
  is proven at once;
- events.batch.messages_created: customers' messages arrive again (Zalo delivers)."""

from typing import Any

from django.db.models.signals import post_save

from zalohub.accounts.models import ZaloApp
from zalohub.accounts.signals import oa_fixed
from zalohub.events.batch import messages_created


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


def _on_messages_created(sender: Any, messages: list[Any], **kwargs: Any) -> None:
    from zalohub.diagnostics.services import health_refresh_after_fix

    for oa_id in {getattr(m, "oa_id", None) for m in messages} - {None}:
        health_refresh_after_fix(oa_id=oa_id, reason="messages arrived")


def connect() -> None:
    oa_fixed.connect(_on_oa_fixed, dispatch_uid="diagnostics.oa_fixed")
    post_save.connect(_on_app_saved, sender=ZaloApp, dispatch_uid="diagnostics.app_saved")
    messages_created.connect(_on_messages_created, dispatch_uid="diagnostics.messages_created")
