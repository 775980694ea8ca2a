"""The event types a subscription may ask for, with what each means."""

from django.utils.translation import gettext_lazy as _

EVENT_TYPES: dict[str, object] = {
    "message.received": _("A customer's message arrived on an OA."),
    "message.status_changed": _("A message's Zalo State moved (sent, delivered, read, failed)."),
    "template.status_changed": _("A ZBS template's review status changed."),
    "template.quality_changed": _("A ZBS template's quality rating changed."),
    "partner.created": _("A partner was created."),
    "partner.merged": _("Two partners were merged."),
    "partner.unmerged": _("A merge was undone."),
    "partner_link.created": _("A Zalo user was linked to a partner on an OA."),
    "oa.status_changed": _("An Official Account's connection status changed."),
    "oa.health_changed": _("An Official Account's health level changed."),
    "quota.changed": _("An OA's ZBS quota changed."),
}
TEST_EVENT = "webhook.test"  # the Send test event button's: never subscribed to, always sent


def choices() -> list[tuple[str, str]]:
    return [(name, f"{name}: {text}") for name, text in EVENT_TYPES.items()]
