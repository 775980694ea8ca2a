"""What a confirmed data removal does to ZBS's tables (``core.removal``): the OA's
template sends to the person (by their partner, Zalo user id or phone) lose the phone,
the user id and the parameters filled with their data; their bulk-send recipient rows
keep the outcome and lose any detail that names them. The message of each send is
emptied by events, like every message of theirs."""

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from zalohub.core.removal import Counts, Person, register_remover, slices
from zalohub.zbs.models import BulkRecipient, TemplateSend


@register_remover(
    "zbs",
    position=40,
    labels={
        "template_sends": _("Template sends anonymized"),
        "bulk_recipients": _("Bulk-send recipients anonymized"),
    },
)
def remove(person: Person) -> Counts:
    partners = [pk for pk in (person.partner_pk, *person.merged_partner_pks) if pk]
    theirs = Q(partner_id__in=partners) | Q(user_id__in=person.ids) | Q(phone__in=person.ids)
    sends = TemplateSend.objects.filter(theirs, oa_id=person.oa_pk)
    recipients = BulkRecipient.objects.filter(
        Q(bulk__oa_id=person.oa_pk, partner_id__in=partners) | Q(send__in=sends.values("pk"))
    )
    rows = list(recipients.values_list("pk", "detail", "detail_i18n"))
    send_ids = list(sends.values_list("pk", flat=True))
    for batch in slices(send_ids):
        TemplateSend.objects.filter(pk__in=batch).update(params={}, phone="", user_id="")
    for pk, detail, detail_i18n in rows:
        if person.names_in(detail) or person.json_names(detail_i18n):
            BulkRecipient.objects.filter(pk=pk).update(
                detail=person.scrub(detail), detail_i18n=person.scrub_json(detail_i18n)
            )
    return {"template_sends": len(send_ids), "bulk_recipients": len(rows)}
