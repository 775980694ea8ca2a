"""The OA form's buttons into other apps: registered by the apps that own the pages
(STYLE.md §3b), shown to the readers who may open them; accounts names none of them."""

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from zalohub.accounts import links
from zalohub.accounts.models import OfficialAccount, ZaloApp

pytestmark = pytest.mark.django_db
ACCOUNTS = Path(links.__file__).parent
OWN = {"btn-authorize", "btn-clear-session", "btn-sync-profile"}  # accounts' own actions


@pytest.fixture
def oa() -> OfficialAccount:
    app = ZaloApp.objects.create(name="App A", app_id="100", secret_key="s3cret-app")
    return OfficialAccount.objects.create(app=app, name="Support OA", access_token="tok-1")


def _buttons(client, user, oa) -> dict[str, str]:
    """The form's object tools that lead elsewhere: id -> href."""
    client.force_login(user)
    page = client.get(reverse("admin:accounts_officialaccount_change", args=[oa.pk]))
    assert page.status_code == 200
    tools = page.content.decode().split('class="object-tools"')[1].split("</ul>")[0]
    found = dict(re.findall(r'<a id="([\w-]+)" class="historylink" href="([^"]+)"', tools))
    return {dom_id: href for dom_id, href in found.items() if dom_id not in OWN}


def test_it_shows_the_admin_every_button_the_apps_registered(client, admin, oa):
    # It should show the apps' buttons, in the order they registered, each to its page
    # for this OA (the same addresses as when accounts named them itself).
    assert list(_buttons(client, admin, oa).items()) == [
        ("btn-api-logs", f"/admin/apilog/apilog/?oa__id__exact={oa.pk}"),
        ("btn-zalo-partners", f"/admin/partners/zalopartnerlink/?oa__id__exact={oa.pk}"),
        ("btn-zalo-history", reverse("admin:events_history", args=[oa.pk])),
        ("btn-zbs-templates", f"/admin/zbs/template/?oa__id__exact={oa.pk}"),
        ("btn-health", f"/admin/diagnostics/healthsnapshot/?oa={oa.pk}"),
        ("btn-escalation", reverse("admin:diagnostics_escalation", args=["oa", oa.pk])),
    ]


def test_it_shows_exactly_the_registered_links(client, admin, oa, monkeypatch):
    monkeypatch.setattr(links, "LINKS", {})
    links.register_oa_link(
        "btn-inbox",
        "Inbox",
        "admin:inbox_conversation_changelist",
        permission="inbox.view_conversation",
        list_filter="oa__id__exact",
    )
    # It should show what is registered now, and nothing it used to name itself.
    assert _buttons(client, admin, oa) == {
        "btn-inbox": f"/admin/inbox/conversation/?oa__id__exact={oa.pk}"
    }


def test_it_shows_a_button_only_to_a_reader_who_may_open_its_page(client, oa):
    reader = User.objects.create_user("reader", is_staff=True)
    reader.user_permissions.set(
        Permission.objects.filter(codename__in=["view_officialaccount", "view_apilog"])
    )
    # It should offer the API logs, and none of the pages the reader may not open.
    assert list(_buttons(client, reader, oa)) == ["btn-api-logs"]


def test_accounts_names_no_app_above_it():
    sources = [*ACCOUNTS.glob("*.py"), *ACCOUNTS.glob("templates/**/*.html")]
    above = re.compile(r"\b(apilog|partners|zbs|diagnostics|inbox)[_.](\w+)")
    # It should leave every page of the apps above accounts to those apps' registrations.
    named = {
        f"{path.name}: {match.group(0)}"
        for path in sources
        for match in above.finditer(path.read_text())
    }
    assert not named
