"""What a confirmed data removal does to the admin's history (Django's ``LogEntry``, no
app of ours owns it): an entry about the person's partner or Zalo link, or whose text
names them, keeps who did what and when, and loses the name it showed."""

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from zalohub.core.removal import REMOVED, Counts, Person, register_remover
from zalohub.partners.models import Partner, ZaloPartnerLink


@register_remover(
    "privacy", position=95, labels={"admin_history": _("Admin history entries anonymized")}
)
def remove(person: Person) -> Counts:
    theirs = Q()
    for needle in person.needles:
        theirs |= Q(object_repr__contains=needle) | Q(change_message__contains=needle)
    if person.link_pk is not None:
        link_type = ContentType.objects.get_for_model(ZaloPartnerLink)
        theirs |= Q(content_type=link_type, object_id=str(person.link_pk))
    if person.removed_partner_pks:
        partner_type = ContentType.objects.get_for_model(Partner)
        pks = [str(pk) for pk in person.removed_partner_pks]
        theirs |= Q(content_type=partner_type, object_id__in=pks)
    if not theirs:
        return {"admin_history": 0}
    rows = list(LogEntry.objects.filter(theirs).values_list("pk", "change_message"))
    for pk, message in rows:
        LogEntry.objects.filter(pk=pk).update(
            object_repr=REMOVED, change_message=person.scrub(message)
        )
    return {"admin_history": len(rows)}
