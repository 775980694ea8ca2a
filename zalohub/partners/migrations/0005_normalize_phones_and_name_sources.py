"""Existing rows under the new rules.

- Phones typed by staff ("0912 345 678", "+84 912-345-678") become 84xxxxxxxxx, so the
  duplicate scan can match them; a number that then repeats on the same partner is
  kept once (verified if either was). Text that is no Vietnamese number stays as it
  was: the senders refuse it, and staff see it on the partner.
- A partner whose name is still a Zalo name (its link's display name, or the
  "Zalo user 123456" placeholder in either language) follows the Zalo profile; every
  other name was given by someone and stays.
- Links never synced are due for a profile fetch: the worker fetches them within the
  app's call budget.
"""

import re

from django.db import migrations
from django.utils import timezone

PLACEHOLDER = re.compile(r"^(Zalo user|Người dùng Zalo) \d{1,6}$")


def normalize_phones(apps, schema_editor):
    from zalohub.partners.phones import InvalidPhone, normalize_phone

    PartnerPhone = apps.get_model("partners", "PartnerPhone")
    for phone in PartnerPhone.objects.order_by("-verified", "id").iterator():
        try:
            number = normalize_phone(phone.number)
        except InvalidPhone:
            continue
        if number == phone.number:
            continue
        kept = PartnerPhone.objects.filter(partner_id=phone.partner_id, number=number).first()
        if kept is not None:
            if phone.verified and not kept.verified:
                PartnerPhone.objects.filter(pk=kept.pk).update(verified=True)
            PartnerPhone.objects.filter(pk=phone.pk).delete()
        else:
            PartnerPhone.objects.filter(pk=phone.pk).update(number=number)


def mark_zalo_names(apps, schema_editor):
    Partner = apps.get_model("partners", "Partner")
    ZaloPartnerLink = apps.get_model("partners", "ZaloPartnerLink")
    zalo_names = set(
        ZaloPartnerLink.objects.exclude(display_name="").values_list("partner_id", "display_name")
    )
    for pk, name in Partner.objects.values_list("pk", "name").iterator():
        if PLACEHOLDER.match(name) or (pk, name) in zalo_names:
            Partner.objects.filter(pk=pk).update(name_source="zalo")
    ZaloPartnerLink.objects.filter(synced_at__isnull=True, profile_due_at__isnull=True).update(
        profile_due_at=timezone.now()
    )


class Migration(migrations.Migration):
    dependencies = [("partners", "0004_partner_name_source_link_profile")]

    operations = [
        migrations.RunPython(normalize_phones, migrations.RunPython.noop),
        migrations.RunPython(mark_zalo_names, migrations.RunPython.noop),
    ]
