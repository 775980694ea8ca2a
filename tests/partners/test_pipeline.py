"""Partner links from the event pipeline and the admin: Mr. Son stays one customer."""

import pytest

from tests.helpers import fixture, post_webhook
from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.apilog.models import ApiLog
from zalohub.events.models import Message
from zalohub.events.processing.queue import drain
from zalohub.inbox.models import OAMembership
from zalohub.partners.models import Partner, ZaloPartnerLink
from zalohub.sandbox import world

pytestmark = pytest.mark.django_db

SUPPORT_USER = "7800000000000000101"


@pytest.fixture
def sales_oa(sandbox, db) -> OfficialAccount:
    """App B's Sales OA, as the hub knows it (processing needs no token)."""
    spec = world.demo_world()["apps"][1]
    app = ZaloApp.objects.create(
        name=spec["name"],
        app_id=spec["app_id"],
        secret_key=spec["secret_key"],
        oa_secret_key=spec["oa_secret_key"],
    )
    return OfficialAccount.objects.create(app=app, name="Sales OA", oa_id=world.OA_SALES_ID)


def _sales(name: str, **extra: str) -> str:
    """A fixture payload moved to the Sales OA of app B, from Mr. Son's Sales id."""
    return fixture(
        name,
        **{
            world.APP_SUPPORT_ID: world.APP_SALES_ID,
            "4310500000000000001": world.OA_SALES_ID,
            SUPPORT_USER: world.SON_SALES_USER_ID,
            "5500000000000000101": world.SON_BY_APP[world.APP_SALES_ID],
            **extra,
        },
    )


def _post(client, app: ZaloApp, raw: str) -> None:
    response = post_webhook(client, app.app_id, raw, key=app.oa_secret_key)
    assert response.status_code == 200, response.content


def test_mr_son_writing_to_two_oas_ends_as_one_partner(client, zalo_app, connected_oa, sales_oa):
    # It should start with one shadow contact per OA, as Zalo gives him two ids.
    _post(client, zalo_app, fixture("user_send_text__official"))
    _post(client, sales_oa.app, _sales("user_send_text__official", **{"96d3cdf3": "a1b2c3d4"}))
    drain()
    links = ZaloPartnerLink.objects.order_by("oa__name")
    assert links.count() == 2 and all(link.is_shadow for link in links)
    assert Message.objects.filter(partner_link__isnull=True).count() == 0
    # It should join both once he shares the same phone on each OA.
    _post(client, zalo_app, fixture("user_submit_info__current"))
    drain()
    _post(client, sales_oa.app, _sales("user_submit_info__current"))
    drain()
    partners = Partner.objects.filter(merged_into__isnull=True)
    assert partners.count() == 1
    son = partners.get()
    assert son.name == "Nguyễn Văn Sơn" and not son.is_shadow
    assert son.phones.get().number == "84912345678"
    assert son.zalo_links.count() == 2
    # It should keep both conversations on the one partner.
    assert Message.objects.filter(partner_link__partner=son).count() == 2


def test_follow_and_unfollow_are_kept_on_the_link(client, zalo_app, connected_oa):
    _post(client, zalo_app, fixture("follow__official"))
    drain()
    link = ZaloPartnerLink.objects.get()
    # It should record that the user follows, then that they left.
    assert link.is_follower is True and link.followed_at
    _post(client, zalo_app, fixture("unfollow__official"))
    drain()
    link.refresh_from_db()
    assert link.is_follower is False and link.unfollowed_at


def _link_for_son(connected_oa: OfficialAccount) -> ZaloPartnerLink:
    from zalohub.partners.resolution import ZaloUser, resolve_link

    return resolve_link(oa=connected_oa, user=ZaloUser(world.SON_SUPPORT_USER_ID))


def test_sync_profile_fetches_name_and_avatar_from_zalo(client, admin, connected_oa):
    link = _link_for_son(connected_oa)
    client.force_login(admin)
    url = f"/admin/partners/zalopartnerlink/{link.pk}/sync-profile/"
    response = client.post(url)
    assert response.status_code == 302
    link.refresh_from_db()
    # It should store Zalo's name and avatar, when, and log the call against the link.
    assert link.display_name and link.avatar and link.synced_at
    assert link.user_id_by_app == world.SON_BY_APP[world.APP_SUPPORT_ID]
    log = ApiLog.objects.filter(endpoint="oa.user.detail").latest("id")
    assert log.oa_id == connected_oa.pk


def test_sync_profile_of_an_unknown_user_says_why_and_keeps_the_link(client, admin, connected_oa):
    from zalohub.partners.resolution import ZaloUser, resolve_link

    link = resolve_link(oa=connected_oa, user=ZaloUser("1111111111111111111", display_name="X"))
    client.force_login(admin)
    client.post(f"/admin/partners/zalopartnerlink/{link.pk}/sync-profile/")
    link.refresh_from_db()
    # It should keep the old profile and record Zalo's refusal.
    assert link.display_name == "X" and link.synced_at is None
    assert link.sync_error


def test_the_oa_form_shows_the_zalo_partners_button_to_admins(client, admin, connected_oa):
    client.force_login(admin)
    page = client.get(f"/admin/accounts/officialaccount/{connected_oa.pk}/change/")
    # It should offer the OA's partner list, filtered to that OA.
    assert b'id="btn-zalo-partners"' in page.content
    link = _link_for_son(connected_oa)
    listing = client.get(f"/admin/partners/zalopartnerlink/?oa__id__exact={connected_oa.pk}")
    assert listing.status_code == 200
    assert f"/admin/partners/zalopartnerlink/{link.pk}/change/".encode() in listing.content


@pytest.mark.parametrize(
    ("persona", "list_status", "sync_status"),
    [("agent", 200, 403), ("outsider", 403, 403), ("auditor", 403, 403)],
)
def test_the_role_matrix_of_partner_links(
    client, request, connected_oa, persona, list_status, sync_status
):
    link = _link_for_son(connected_oa)
    client.force_login(request.getfixturevalue(persona))
    # It should let a CS agent read links but never sync or verify them.
    assert client.get("/admin/partners/zalopartnerlink/").status_code == list_status
    assert (
        client.post(f"/admin/partners/zalopartnerlink/{link.pk}/sync-profile/").status_code
        == sync_status
    )
    assert (
        client.get(f"/admin/partners/zalopartnerlink/{link.pk}/verify/").status_code == sync_status
    )


def test_a_merged_partner_redirects_to_its_survivor(client, admin):
    survivor = Partner.objects.create(name="Survivor")
    merged = Partner.objects.create(name="Old", merged_into=survivor)
    client.force_login(admin)
    response = client.get(f"/admin/partners/partner/{merged.pk}/change/")
    # It should send whoever opens the old id to the survivor.
    assert response.status_code == 302
    assert response["Location"].endswith(f"/admin/partners/partner/{survivor.pk}/change/")


def test_the_audit_checklist_says_what_is_left_per_oa(client, admin, agent, connected_oa):
    link = _link_for_son(connected_oa)
    client.force_login(admin)
    listing = client.get(f"/admin/partners/zalopartnerlink/?oa__id__exact={connected_oa.pk}")
    assert b'id="btn-audit"' in listing.content
    url = f"/admin/partners/zalopartnerlink/audit/{connected_oa.pk}/"
    page = client.get(url).content.decode()
    # It should flag the shadow contact and the never-synced profile, not the duplicates.
    assert 'data-check="list" data-ok="0"' in page
    assert 'data-check="profiles" data-ok="0"' in page
    assert 'data-check="duplicates" data-ok="1"' in page
    client.post(f"/admin/partners/zalopartnerlink/{link.pk}/sync-profile/")
    client.post(f"/admin/partners/zalopartnerlink/{link.pk}/verify/", {"partner": ""})
    page = client.get(url).content.decode()
    # It should turn green once the link is verified and its profile synced.
    assert 'data-ok="0"' not in page
    # It should show the checklist to a CS agent of the OA too (read-only), and to no
    # other agent: another OA's audit is not found (issue 13 §2).
    client.force_login(agent)
    assert client.get(url).status_code == 404
    OAMembership.objects.create(user=agent, oa=connected_oa)
    assert client.get(url).status_code == 200


def test_sync_profile_picks_up_a_name_the_customer_changed_on_zalo(
    client, admin, connected_oa, sandbox
):
    from zalohub.sandbox.customers import customer_update_profile

    link = _link_for_son(connected_oa)
    client.force_login(admin)
    client.post(f"/admin/partners/zalopartnerlink/{link.pk}/sync-profile/")
    link.refresh_from_db()
    first_sync = link.synced_at
    customer_update_profile(
        sandbox, oa_id=world.OA_SUPPORT_ID, user_id=link.zalo_user_id, display_name="Sơn N."
    )
    # It should show the new name only after Sync Profile, and record when.
    link.refresh_from_db()
    assert link.display_name != "Sơn N."
    client.post(f"/admin/partners/zalopartnerlink/{link.pk}/sync-profile/")
    link.refresh_from_db()
    assert link.display_name == "Sơn N." and link.synced_at > first_sync
