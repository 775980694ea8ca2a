"""What a confirmed data removal does to the API's tables (``core.removal``): an answer
kept for ``Idempotency-Key`` that names the person (a message sent to them, their
partner) keeps its key, request hash and status, and its body becomes a removal notice:
a repeat of that request is still answered once, without their data."""

import json

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from zalohub.api.models import IdempotentRequest
from zalohub.core.removal import Counts, Person, register_remover, slices


@register_remover("api", position=60, labels={"api_answers": _("Kept API answers emptied")})
def remove(person: Person) -> Counts:
    theirs = Q()
    for needle in person.needles:
        theirs |= Q(response_body__contains=needle)
    if not theirs:
        return {"api_answers": 0}
    ids = list(IdempotentRequest.objects.filter(theirs).values_list("pk", flat=True))
    body = json.dumps({"removed": True, "data_removal_request": person.request_id})
    for batch in slices(ids):
        IdempotentRequest.objects.filter(pk__in=batch).update(
            response_body=body, content_type="application/json"
        )
    return {"api_answers": len(ids)}
