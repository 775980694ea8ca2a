"""A page shows a reader only the links and buttons they may follow: a CS agent views
ZBS templates and an OA's partner audit, and met a Sync button, the route policy's form,
the duplicates list and a live lint check that all answered 403 (the demo walk)."""

import pytest
from django.test import Client

from tests.zbs.conftest import make_template
from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.inbox.models import OAMembership

pytestmark = pytest.mark.django_db


@pytest.fixture
def oa(db) -> OfficialAccount:
    app = ZaloApp.objects.create(name="A", app_id="1001", secret_key="s-a")
    return OfficialAccount.objects.create(app=app, name="Support OA", oa_id="9001")


def _pages(user, oa: OfficialAccount) -> dict[str, str]:
    OAMembership.objects.get_or_create(user=user, oa=oa)
    client = Client()
    client.force_login(user)
    draft = make_template(oa, name="Xác nhận đơn hàng")
    urls = {
        "templates": f"/admin/zbs/template/?oa__id__exact={oa.pk}",
        "draft": f"/admin/zbs/template/{draft.pk}/change/",
        "audit": f"/admin/partners/zalopartnerlink/audit/{oa.pk}/",
    }
    pages = {}
    for name, url in urls.items():
        answer = client.get(url)
        assert answer.status_code == 200, (url, answer.status_code)
        pages[name] = answer.content.decode()
    return pages


def test_it_offers_a_cs_agent_no_link_that_answers_403(agent, oa):
    pages = _pages(agent, oa)
    # It should show the route policy as words, with no Sync button and no link to its form...
    assert "/admin/zbs/zbssettings/" not in pages["templates"]
    assert 'id="route-policy"' in pages["templates"]
    assert 'id="btn-sync"' not in pages["templates"]
    # ... no live check of a form the agent only reads...
    assert 'id="zbs-lint-live"' not in pages["draft"]
    # ... its parameters as a table, not as raw JSON...
    assert "params_table" in pages["draft"] and "&quot;sample&quot;" not in pages["draft"]
    # ... and the audit's count of duplicates without a link to the duplicates list.
    assert 'data-check="duplicates"' in pages["audit"]
    assert "/admin/partners/duplicatesuggestion/" not in pages["audit"]


def test_it_still_offers_them_to_a_zalo_admin(admin, oa):
    pages = _pages(admin, oa)
    # It should keep every button and link for those who may use them.
    assert 'id="btn-route-policy"' in pages["templates"]
    assert "/admin/zbs/zbssettings/" in pages["templates"]
    assert 'id="btn-sync"' in pages["templates"]
    assert 'id="zbs-lint-live"' in pages["draft"]
    assert "/admin/partners/duplicatesuggestion/?status__exact=open" in pages["audit"]
