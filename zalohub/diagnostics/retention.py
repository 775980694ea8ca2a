"""The events Diagnostics still points at, kept by the events' retention."""

from django.db.models import QuerySet

from zalohub.accounts.models import OfficialAccount
from zalohub.diagnostics.checks.webhook import customer_events
from zalohub.diagnostics.models import WebhookProbe
from zalohub.events.retention import register_keeper


def self_test_events() -> QuerySet[WebhookProbe, int]:
    """Events a webhook self-test stored (its result links to them)."""
    return WebhookProbe.objects.filter(event__isnull=False).values_list("event_id", flat=True)


def newest_customer_events() -> list[int]:
    """Each OA's newest customer event: the webhook check's "last event received"."""
    ids = []
    for oa in OfficialAccount.objects.only("pk"):
        newest = customer_events(oa).order_by("-received_at").values_list("pk", flat=True)
        if (pk := newest.first()) is not None:
            ids.append(pk)
    return ids


def register_keepers() -> None:
    register_keeper("diagnostics.self_tests", self_test_events)
    register_keeper("diagnostics.newest_customer_event", newest_customer_events)
