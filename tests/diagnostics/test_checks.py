"""The checks one by one: levels, evidence, and categories from Zalo's codes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.diagnostics.conftest import age, refresh
from zalohub.accounts.models import OfficialAccount
from zalohub.diagnostics.categories import category_for_code, next_step
from zalohub.diagnostics.checks.run import oa_health
from zalohub.events.models import ErrorCategory, ZaloEvent

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("code", "category"),
    [
        (-216, ErrorCategory.TOKEN),
        (-220, ErrorCategory.TOKEN),
        (-124, ErrorCategory.TOKEN),
        (-108, ErrorCategory.RECIPIENT),
        (-118, ErrorCategory.RECIPIENT),
        (-131, ErrorCategory.TEMPLATE),
        (-146, ErrorCategory.TEMPLATE),
        (-144, ErrorCategory.SEND),
        (-230, ErrorCategory.SEND),
        (None, ErrorCategory.SEND),
    ],
)
def test_it_assigns_the_guides_category_from_zalos_code(code, category):
    # It should name the category from Zalo's code, and a next step for a non-developer.
    assert category_for_code(code) == category
    assert next_step(category, code)


def test_it_is_green_for_a_freshly_connected_oa_with_traffic(connected_oa, customer_writes):
    customer_writes()
    health = oa_health(oa=connected_oa)
    # It should find nothing wrong.
    assert {c.key: c.level for c in health.checks} == {
        "token": "green",
        "webhook": "green",
        "refused": "green",
        "sends": "green",
        "templates": "green",
        "recipients": "green",
    }
    assert health.level == "green"


def test_it_warns_fourteen_days_before_the_refresh_token_expires(connected_oa):
    OfficialAccount.objects.filter(pk=connected_oa.pk).update(
        refresh_token_expires_at=timezone.now() + timedelta(days=13)
    )
    token = refresh(connected_oa).check("token")
    # It should be amber, and say when to authorize again.
    assert token.level == "amber"
    assert "refresh token expires" in token.summary
    OfficialAccount.objects.filter(pk=connected_oa.pk).update(
        refresh_token_expires_at=timezone.now() + timedelta(days=15)
    )
    # It should be green with more than 14 days left.
    assert refresh(connected_oa).check("token").level == "green"


def test_it_is_red_for_an_expired_account_with_the_reason(connected_oa):
    OfficialAccount.objects.filter(pk=connected_oa.pk).update(
        status=OfficialAccount.Status.EXPIRED, last_error="The refresh token expired."
    )
    token = refresh(connected_oa).check("token")
    # It should be red, name the category and the next step, and show the evidence.
    assert token.level == "red"
    assert token.category == ErrorCategory.TOKEN
    assert "Authorize Account" in token.next_step
    assert "The refresh token expired." in token.summary
    assert any("/admin/accounts/officialaccount/" in e.url for e in token.evidence)


def test_it_judges_silence_against_the_oas_usual_traffic(connected_oa, customer_writes, settings):
    settings.DIAGNOSTICS_WEBHOOK_BASELINE_EVENTS = 10
    for _ in range(12):
        customer_writes()
    # It should spread the 12 events over the last 3 days (one every 6 h)...
    for i, event in enumerate(ZaloEvent.objects.filter(event_name="user_send_text")):
        ZaloEvent.objects.filter(pk=event.pk).update(
            received_at=timezone.now() - timedelta(hours=6 * (i + 1))
        )
    health = oa_health(oa=connected_oa)
    # ... so 6 h of silence is usual (green), two days of it are not (red).
    assert health.check("webhook").level == "green"
    age(ZaloEvent, "received_at", timedelta(hours=40), event_name="user_send_text")
    webhook = oa_health(oa=connected_oa).check("webhook")
    assert webhook.level == "red"
    assert webhook.category == ErrorCategory.WEBHOOK
    assert "No event for" in webhook.summary


def test_it_is_green_without_templates_and_links_to_the_oas_templates(connected_oa):
    templates = oa_health(oa=connected_oa).check("templates")
    # It should be green with no template and no quota read yet, and show where they live.
    assert templates.level == "green"
    assert [name for name, _ in templates.facts] == ["Outbound messages (24 h)"]
    urls = [e.url for e in templates.evidence]
    assert f"/admin/zbs/template/?oa__id__exact={connected_oa.pk}" in urls
