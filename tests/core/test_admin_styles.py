"""Read-only records offer no Save, booleans say what they mean, and the custom admin
pages use the admin's own breadcrumbs and buttons (issue 14 §9)."""

import re

import pytest
from django.test import Client
from django.utils import timezone

from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.apilog.models import ApiLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def oa(db) -> OfficialAccount:
    app = ZaloApp.objects.create(name="A", app_id="1001", secret_key="s-a")
    return OfficialAccount.objects.create(app=app, name="Support OA", oa_id="9001")


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_api_log_says_succeeded_or_failed_in_words(admin, oa):
    log = ApiLog.objects.create(
        created_at=timezone.now(),
        method="GET",
        endpoint="oa/getoa",
        url="http://127.0.0.1/oa/getoa",
        http_status=200,
        ok=False,
        duration_ms=3.0,
        oa=oa,
    )
    page = _client(admin).get(f"/admin/apilog/apilog/{log.pk}/change/").content.decode()
    # It should say Failed, not draw the admin's red ✗ icon.
    assert "icon-no.svg" not in page and "icon-yes.svg" not in page
    assert '<div class="readonly">Failed</div>' in page


def test_the_custom_pages_use_the_admins_breadcrumbs_and_buttons(admin, oa):
    client = _client(admin)
    pages = {
        f"/admin/accounts/officialaccount/{oa.pk}/clear-oauth-session/": 'class="submit-row"',
        "/admin/diagnostics/healthsnapshot/": 'class="button"',
        f"/admin/diagnostics/healthsnapshot/escalation/oa/{oa.pk}/": 'class="button"',
        f"/admin/partners/zalopartnerlink/audit/{oa.pk}/": "audit-checks",
    }
    for url, button in pages.items():
        answer = client.get(url)
        page = answer.content.decode()
        # It should extend the admin's base page, with its breadcrumbs list.
        assert answer.status_code == 200, (url, answer.status_code)
        assert '<ol class="breadcrumbs">' in page, url
        assert 'id="site-name"' in page, url
        assert button in page, url


def test_the_custom_pages_breadcrumbs_read_with_a_space_after_each_separator(admin, oa):
    client = _client(admin)
    for url in (
        f"/admin/accounts/officialaccount/{oa.pk}/clear-oauth-session/",
        "/admin/diagnostics/healthsnapshot/",
        f"/admin/diagnostics/healthsnapshot/escalation/oa/{oa.pk}/",
        f"/admin/partners/zalopartnerlink/audit/{oa.pk}/",
    ):
        page = client.get(url).content.decode()
        [crumbs] = re.findall(r'<ol class="breadcrumbs">.*?</ol>', page, re.S)
        # It should put white space between the items, as the admin's own pages do: the
        # admin's separator after an item is followed by a space only when some is there
        # ("Home &rsaquo;OA health" otherwise, as the demo walk saw).
        assert re.search(r"</li><li", crumbs) is None, (url, crumbs)


def test_the_oauth_error_page_uses_the_admins_breadcrumbs_and_a_button(client, oa):
    page = client.get(f"/zalo/oauth/{oa.app.app_id}/callback/?code=x&state=forged")
    html = page.content.decode()
    # It should fail in the admin's frame: breadcrumbs list, a styled way back.
    assert page.status_code == 400
    assert '<ol class="breadcrumbs">' in html
    assert '<a class="button" href="/admin/accounts/officialaccount/">' in html
