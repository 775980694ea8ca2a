"""The health page: one card per OA, red first, evidence links, recompute, permissions."""

import pytest

from tests.diagnostics.conftest import refresh
from zalohub.accounts.models import OfficialAccount
from zalohub.diagnostics.models import HealthSnapshot
from zalohub.diagnostics.services import run_health_checks

pytestmark = pytest.mark.django_db
URL = "/admin/diagnostics/healthsnapshot/"


@pytest.fixture
def broken_oa(zalo_app):
    return OfficialAccount.objects.create(
        app=zalo_app, name="Zulu broken", status=OfficialAccount.Status.EXPIRED
    )


def test_it_shows_red_cards_first_with_their_evidence(
    client, admin, connected_oa, customer_writes, broken_oa
):
    customer_writes()
    client.force_login(admin)
    page = client.get(URL).content.decode()
    # It should compute missing snapshots and show the red OA before the healthy one,
    # though its name sorts last.
    assert page.index(f'id="oa-{broken_oa.pk}"') < page.index(f'id="oa-{connected_oa.pk}"')
    assert 'data-level="red"' in page
    assert "Token / authorization" in page and "Authorize Account" in page
    assert f"/admin/accounts/officialaccount/{broken_oa.pk}/change/" in page
    assert "<svg" in page and 'class="ev"' in page
    # It should narrow to one OA from the OA form's Health button.
    form = client.get(f"/admin/accounts/officialaccount/{connected_oa.pk}/change/").content
    assert f"{URL}?oa={connected_oa.pk}".encode() in form
    assert f"{URL}escalation/oa/{connected_oa.pk}/".encode() in form
    only = client.get(f"{URL}?oa={connected_oa.pk}").content.decode()
    assert f'id="oa-{broken_oa.pk}"' not in only


def test_it_recomputes_on_demand_and_in_the_worker(client, admin, connected_oa, broken_oa):
    client.force_login(admin)
    answer = client.post(f"{URL}refresh/", {"oa": broken_oa.pk})
    assert answer.status_code == 302
    # It should store a snapshot for the OA asked for, and for every OA in the worker's job.
    assert HealthSnapshot.objects.get(oa=broken_oa).level == "red"
    assert run_health_checks() == 2
    assert HealthSnapshot.objects.count() == 2


def test_it_is_for_admins_only(client, agent, connected_oa):
    client.force_login(agent)
    # It should refuse a CS agent the page, the bundle and the self-test.
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}escalation/oa/{connected_oa.pk}/").status_code == 403
    assert client.post(f"{URL}{connected_oa.pk}/selftest/").status_code == 403


def test_it_runs_the_self_test_from_the_card(client, admin, connected_oa, settings):
    settings.PUBLIC_URL = "http://127.0.0.1:9"
    client.force_login(admin)
    answer = client.post(f"{URL}{connected_oa.pk}/selftest/", follow=True)
    # It should report that the probe did not arrive, and the card should say why.
    assert "did not arrive" in answer.content.decode()
    assert refresh(connected_oa).check("webhook").level == "red"
