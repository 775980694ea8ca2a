"""What a confirmed data removal does to the outbound webhooks' tables (``core.removal``):
a delivery whose payload names the person (their message, their Zalo link; their
partner's creation when the partner is removed too) keeps its type, time, webhook-id
and state, and its payload's data becomes ``{"removed": true}``; one still waiting is
cancelled rather than sent so. Its attempts lose the subscriber's answer, which may
echo the payload."""

import json

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from zalohub.core.removal import Counts, Person, register_remover, slices
from zalohub.webhooks.models import Delivery, DeliveryAttempt


def _removed_body(person: Person, event_type: str, body: str) -> str:
    try:
        envelope = json.loads(body)
    except ValueError:
        envelope = None
    if not isinstance(envelope, dict):
        envelope = {"type": event_type}
    envelope["data"] = {"removed": True, "data_removal_request": person.request_id}
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


@register_remover(
    "webhooks",
    position=50,
    labels={
        "webhook_deliveries": _("Webhook deliveries emptied"),
        "webhook_attempts": _("Webhook delivery answers removed"),
    },
)
def remove(person: Person) -> Counts:
    theirs = Q()
    for needle in person.ids:
        theirs |= Q(oa_id=person.oa_pk, body__contains=needle)
    for pk in person.removed_partner_pks:
        # partner.created names the partner (compact JSON: webhooks.outgoing.body_of).
        theirs |= Q(event_type="partner.created", body__contains=f'"partner_id":{pk},')
    if not theirs:
        return {"webhook_deliveries": 0, "webhook_attempts": 0}
    ids = list(Delivery.objects.filter(theirs).values_list("pk", flat=True))
    attempts = 0
    for batch in slices(ids):
        rows = Delivery.objects.filter(pk__in=batch).values_list("pk", "event_type", "body")
        for pk, event_type, body in rows:
            Delivery.objects.filter(pk=pk).update(body=_removed_body(person, event_type, body))
        Delivery.objects.filter(pk__in=batch, state=Delivery.State.PENDING).update(
            state=Delivery.State.CANCELLED
        )
        attempts += (
            DeliveryAttempt.objects.filter(delivery_id__in=batch)
            .exclude(response_body="")
            .update(response_body="")
        )
    return {"webhook_deliveries": len(ids), "webhook_attempts": attempts}
