"""Zalo tags (issue 16 §8): the hub reads an OA's tags, tags and untags a user through the
client (the sandbox Zalo on loopback), follows the tag webhooks, and the Zalo Partners
list shows each link's tags and filters by them."""

import json
import time

import pytest

from tests.helpers import post_webhook
from tests.zbs.conftest import Relay
from zalohub.apilog.models import ApiLog
from zalohub.events.models import Outcome, ZaloEvent
from zalohub.events.processing.queue import drain
from zalohub.partners.models import ZaloPartnerLink, ZaloTag, ZaloTagging
from zalohub.partners.services import link_sync_profile
from zalohub.partners.tags import link_tag, link_untag, oa_sync_tags
from zalohub.sandbox import payloads
from zalohub.sandbox.people import change_tag
from zalohub.sandbox.world import APP_SUPPORT_ID, OA_SUPPORT_ID, SON_BY_APP, SON_SUPPORT_USER_ID
from zalohub.zalo import ZaloError

pytestmark = pytest.mark.django_db

MAI = "5830174629118340317"


def _writes(client, app, user_id: str) -> ZaloPartnerLink:
    event = payloads.user_send(
        app_id=app.app_id,
        oa_id=OA_SUPPORT_ID,
        user_id=user_id,
        by_app=SON_BY_APP[APP_SUPPORT_ID] if user_id == SON_SUPPORT_USER_ID else "",
        kind="text",
        msg_id=f"m{time.monotonic_ns()}",
        timestamp=str(int(time.time() * 1000)),
        text="Xin chào",
    )
    assert (
        post_webhook(client, app.app_id, json.dumps(event), key=app.oa_secret_key).status_code
        == 200
    )
    drain()
    return ZaloPartnerLink.objects.get(zalo_user_id=user_id)


def test_tag_webhooks_tag_untag_and_delete_on_the_links(client, zalo_app, connected_oa, sandbox):
    son, mai = _writes(client, zalo_app, SON_SUPPORT_USER_ID), _writes(client, zalo_app, MAI)
    relay = Relay(sandbox)
    # Staff tag two followers in Zalo's OA manager: Zalo sends add_user_to_tag.
    change_tag(sandbox, oa_id=OA_SUPPORT_ID, tag="Đại lý", user_id=SON_SUPPORT_USER_ID)
    change_tag(sandbox, oa_id=OA_SUPPORT_ID, tag="Đại lý", user_id=MAI)
    change_tag(sandbox, oa_id=OA_SUPPORT_ID, tag="Hà Nội", user_id=MAI)
    assert all(a.status_code == 200 for a in relay())
    son.refresh_from_db()
    mai.refresh_from_db()
    # It should keep each link's tags, in the tables the list filters on and for display.
    assert son.tag_names == ["Đại lý"]
    assert sorted(mai.tag_names) == sorted(["Hà Nội", "Đại lý"])
    assert set(ZaloTagging.objects.filter(link=mai).values_list("tag__name", flat=True)) == {
        "Đại lý",
        "Hà Nội",
    }
    events = ZaloEvent.objects.filter(event_name="add_user_to_tag")
    assert events.count() == 3 and {e.outcome for e in events} == {Outcome.HANDLED}
    # remove_user_from_tag takes one tag off one user.
    change_tag(sandbox, oa_id=OA_SUPPORT_ID, tag="Hà Nội", user_id=MAI, action="remove")
    relay()
    mai.refresh_from_db()
    assert mai.tag_names == ["Đại lý"]
    # remove_tag deletes the tag from the OA: every link loses it.
    change_tag(sandbox, oa_id=OA_SUPPORT_ID, tag="Đại lý", action="delete")
    relay()
    son.refresh_from_db()
    mai.refresh_from_db()
    assert son.tag_names == [] and mai.tag_names == []
    assert not ZaloTag.objects.filter(name="Đại lý").exists()
    assert ZaloEvent.objects.get(event_name="remove_tag").outcome == Outcome.HANDLED


def test_a_tag_event_naming_no_tag_is_an_error_not_a_silent_success(client, zalo_app, connected_oa):
    raw = json.dumps(
        {
            "oa_id": OA_SUPPORT_ID,
            "event_name": "add_user_to_tag",
            "tag": {"user_ids": [MAI]},
            "app_id": zalo_app.app_id,
            "timestamp": str(int(time.time() * 1000)),
        }
    )
    assert post_webhook(client, zalo_app.app_id, raw, key=zalo_app.oa_secret_key).status_code == 200
    drain()
    event = ZaloEvent.objects.get(event_name="add_user_to_tag")
    assert event.processing_state == "error" and "no usable tag" in event.error_message


def test_tag_and_untag_through_zalo_and_read_the_oas_tags(client, zalo_app, connected_oa, sandbox):
    son = _writes(client, zalo_app, SON_SUPPORT_USER_ID)
    # It should tag the user on Zalo (the sandbox's follower carries it) and here.
    assert link_tag(link=son, tag="  Khách   mới ") == "Khách mới"
    assert "Khách mới" in sandbox.users[OA_SUPPORT_ID][SON_SUPPORT_USER_ID]["tag_names"]
    assert son.tag_names == ["Khách mới"]
    # Every call is in the API log, with the OA it was for.
    logged = ApiLog.objects.filter(endpoint="oa.tag.tagfollower", oa=connected_oa)
    assert logged.count() == 1
    # The OA's tags as Zalo lists them: the world's and the new one.
    assert set(oa_sync_tags(oa=connected_oa)) == {"Khách VIP", "Khách mới"}
    assert set(ZaloTag.objects.filter(oa=connected_oa).values_list("name", flat=True)) == {
        "Khách VIP",
        "Khách mới",
    }
    assert link_untag(link=son, tag="Khách mới") == "Khách mới"
    assert "Khách mới" not in sandbox.users[OA_SUPPORT_ID][SON_SUPPORT_USER_ID]["tag_names"]
    assert son.tag_names == []
    # A tag Zalo no longer lists leaves the OA (and its links) at the next read; one
    # nobody carries stays (the OA has it).
    link_sync_profile(link=son)
    son.refresh_from_db()
    assert son.tag_names == ["Khách VIP"]
    change_tag(sandbox, oa_id=OA_SUPPORT_ID, tag="Khách VIP", action="delete")
    assert oa_sync_tags(oa=connected_oa) == ["Khách mới"]
    assert list(ZaloTag.objects.filter(oa=connected_oa).values_list("name", flat=True)) == [
        "Khách mới"
    ]
    son.refresh_from_db()
    assert son.tag_names == [] and not ZaloTagging.objects.filter(link=son).exists()


def test_a_tag_zalo_refuses_is_not_kept(client, zalo_app, connected_oa, sandbox):
    son = _writes(client, zalo_app, SON_SUPPORT_USER_ID)
    sandbox.add_fault("oa.tag.tagfollower", "zalo_error", code=-201, times=1)
    with pytest.raises(ZaloError):
        link_tag(link=son, tag="VIP")
    son.refresh_from_db()
    assert son.tag_names == [] and not ZaloTagging.objects.exists()
    assert ApiLog.objects.filter(endpoint="oa.tag.tagfollower", error_code=-201).count() == 1


def test_profile_sync_keeps_tags_alias_sensitivity_and_the_zalo_day(
    client, zalo_app, connected_oa, sandbox
):
    son = _writes(client, zalo_app, SON_SUPPORT_USER_ID)
    sandbox.users[OA_SUPPORT_ID][SON_SUPPORT_USER_ID].update(
        is_sensitive=True, user_alias="Anh Sơn (kho Q7)"
    )
    assert not link_sync_profile(link=son).error
    son.refresh_from_db()
    assert son.tag_names == ["Khách VIP"]
    assert ZaloTagging.objects.filter(link=son, tag__name="Khách VIP").exists()
    assert son.is_sensitive is True and son.zalo_last_interaction_on is not None
    # The alias the OA's staff gave the customer is the name shown (Zalo's name stays on
    # the link).
    assert son.partner.name == "Anh Sơn (kho Q7)" and son.display_name == "Nguyễn Văn Sơn"


def test_zalo_partners_shows_tags_and_filters_by_them(
    client, admin, zalo_app, connected_oa, sandbox
):
    son, mai = _writes(client, zalo_app, SON_SUPPORT_USER_ID), _writes(client, zalo_app, MAI)
    link_tag(link=mai, tag="Hà Nội")
    link_tag(link=son, tag="Đại lý")
    client.force_login(admin)
    base = f"/admin/partners/zalopartnerlink/?oa__id__exact={connected_oa.pk}"
    page = client.get(base).content.decode()
    assert "Hà Nội" in page and "Đại lý" in page and 'class="zalo-tag"' in page
    filtered = client.get(base + "&zalo_tag=H%C3%A0+N%E1%BB%99i")
    assert filtered.status_code == 200
    shown = [link.pk for link in filtered.context["cl"].result_list]
    assert shown == [mai.pk]
    # Add and Remove on the link's form go through Zalo.
    url = f"/admin/partners/zalopartnerlink/{son.pk}/tags/"
    assert client.post(url, {"tag": "Khách sỉ", "action": "add"}).status_code == 302
    son.refresh_from_db()
    assert sorted(son.tag_names) == ["Khách sỉ", "Đại lý"]
    assert client.post(url, {"tag": "Đại lý", "action": "remove"}).status_code == 302
    son.refresh_from_db()
    assert son.tag_names == ["Khách sỉ"]
    form = client.get(f"/admin/partners/zalopartnerlink/{son.pk}/change/").content.decode()
    assert 'id="btn-tag-add"' in form and 'data-tag="Khách sỉ"' in form
    # Sync Zalo tags reads the OA's list.
    assert (
        client.post(f"/admin/partners/zalopartnerlink/tags-sync/{connected_oa.pk}/").status_code
        == 302
    )
    assert ZaloTag.objects.filter(oa=connected_oa, name="Khách VIP").exists()
