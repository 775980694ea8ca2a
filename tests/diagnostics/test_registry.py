"""Checks are registered (registry.register_check), not listed: an OA's health runs every
registered check in the order of its position. Health is recomputed when messages from
Zalo arrive again, heard through events' on_message_stored hook."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.translation import gettext_lazy

from tests.diagnostics.conftest import refresh
from zalohub.diagnostics.checks import CheckResult
from zalohub.diagnostics.checks.run import oa_health
from zalohub.diagnostics.models import HealthSnapshot, Incident, Level
from zalohub.diagnostics.registry import CHECKS, Inputs, register_check
from zalohub.events.outbound.oa_message import message_send
from zalohub.sandbox.world import SON_SUPPORT_USER_ID

pytestmark = pytest.mark.django_db


@pytest.fixture
def extra_check() -> Iterator[list[Inputs]]:
    """A check another app registers; it remembers what it was given."""
    seen: list[Inputs] = []

    @register_check("extra", title=gettext_lazy("Recipients"), position=55)
    def extra(inputs: Inputs) -> CheckResult:
        seen.append(inputs)
        return CheckResult(key="extra", title="Extra", level=Level.RED, summary="broken")

    yield seen
    del CHECKS["extra"]


def test_it_runs_every_registered_check_in_order(connected_oa, extra_check):
    health = oa_health(oa=connected_oa)
    # It should run the registered check, between templates (50) and recipients (60).
    keys = [c.key for c in health.checks]
    assert keys == ["token", "webhook", "refused", "sends", "templates", "extra", "recipients"]
    assert health.level == Level.RED
    # ... handing it what the run read once for all checks.
    [inputs] = extra_check
    assert inputs.oa == connected_oa and inputs.now == health.computed_at
    assert inputs.tally.total_sent == 0


def test_it_names_an_incident_by_its_registered_title(connected_oa, extra_check):
    refresh(connected_oa)
    # It should open an incident for the red check, titled as registered.
    incident = Incident.objects.get(oa=connected_oa, check_key="extra")
    assert incident.check_title == "Recipients"


def test_it_refuses_a_second_check_under_a_taken_key():
    # It should not let one check replace another by accident.
    with pytest.raises(ValueError, match="already registered"):
        register_check("templates", title="Templates", position=1)(lambda inputs: None)  # type: ignore[arg-type,return-value]


def test_it_recomputes_health_when_a_customer_writes_again(connected_oa, customer_writes):
    HealthSnapshot.objects.create(
        oa=connected_oa,
        level=Level.RED,
        checks=[{"key": "webhook", "level": Level.RED}],
        computed_at=timezone.now(),
    )
    # A reply the hub stores (not yet sent) proves nothing about Zalo delivering...
    message_send(oa=connected_oa, user_id=SON_SUPPORT_USER_ID, text="Báo giá")
    assert HealthSnapshot.objects.get(oa=connected_oa).level == Level.RED
    # ... a customer's message does: the health is recomputed at once (it is green).
    customer_writes()
    snapshot = HealthSnapshot.objects.get(oa=connected_oa)
    assert snapshot.level == Level.GREEN
    assert {c["key"] for c in snapshot.checks} >= {"token", "webhook", "templates"}


def test_messages_arriving_leave_a_health_they_cannot_fix_alone(connected_oa, customer_writes):
    # Red for a reason messages from Zalo cannot fix (a rejected template), webhook green.
    before = timezone.now() - timedelta(minutes=5)
    HealthSnapshot.objects.create(
        oa=connected_oa,
        level=Level.RED,
        checks=[
            {"key": "webhook", "level": Level.GREEN},
            {"key": "templates", "level": Level.RED},
        ],
        computed_at=before,
    )
    customer_writes()
    # It should not run every check again for each batch of the OA's messages.
    snapshot = HealthSnapshot.objects.get(oa=connected_oa)
    assert (snapshot.level, snapshot.computed_at) == (Level.RED, before)
