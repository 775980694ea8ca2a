"""What a confirmed data removal does to the API log (``core.removal``): the calls of the
OA that name the person (a profile fetch by their id, a message to them, a ZNS send to
their phone) keep their time, endpoint, status and error, and lose their bodies and the
URL's query."""

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from zalohub.apilog.models import ApiLog
from zalohub.core.removal import REMOVED, Counts, Person, register_remover, slices


@register_remover("apilog", position=30, labels={"api_logs": _("API log entries emptied")})
def remove(person: Person) -> Counts:
    names = Q()
    for needle in person.ids:
        names |= Q(url__contains=needle) | Q(request_body__contains=needle)
        names |= Q(response_body__contains=needle)
    if not names:
        return {"api_logs": 0}
    ids = list(ApiLog.objects.filter(names, oa_id=person.oa_pk).values_list("pk", flat=True))
    for batch in slices(ids):
        rows = ApiLog.objects.filter(pk__in=batch).values_list("pk", "url", "error_message")
        for pk, url, error in rows:
            ApiLog.objects.filter(pk=pk).update(
                url=person.scrub(url.split("?", 1)[0]),
                request_body=REMOVED,
                response_body=REMOVED,
                error_message=person.scrub(error),
            )
    return {"api_logs": len(ids)}
