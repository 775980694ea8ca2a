"""Zalo tags and data removal in a real browser (issue 16 §8, §12): the Zalo Partners
list shows each link's tags and filters by them, a tag is added on the link's form
(through the sandbox Zalo), the inbox shows the conversation's tags, and a Zalo Admin
confirms a data-removal request, in English and Vietnamese."""

import json
import time

import pytest
from django.test import Client

from tests.helpers import post_webhook
from zalohub.events.processing.queue import drain
from zalohub.inbox.models import Conversation
from zalohub.partners.models import ZaloPartnerLink
from zalohub.partners.tags import link_tag
from zalohub.privacy.models import DataRemovalRequest
from zalohub.sandbox import payloads
from zalohub.sandbox.world import OA_SUPPORT_ID, SON_BY_APP, SON_SUPPORT_USER_ID

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MAI = "5830174629118340317"


def _writes(app, user_id: str, by_app: str) -> None:
    event = payloads.user_send(
        app_id=app.app_id,
        oa_id=OA_SUPPORT_ID,
        user_id=user_id,
        by_app=by_app,
        kind="text",
        msg_id=f"m{time.monotonic_ns()}",
        timestamp=str(int(time.time() * 1000)),
        text="Xin chào",
    )
    response = post_webhook(Client(), app.app_id, json.dumps(event), key=app.oa_secret_key)
    assert response.status_code == 200


@pytest.mark.parametrize("language", ["en", "vi"])
def test_tags_are_shown_filterable_and_set_through_zalo(
    admin_page, live_server, sandbox, connected_oa, zalo_app, output_dir, language
):
    _writes(zalo_app, MAI, "3104458812290779917")
    _writes(zalo_app, SON_SUPPORT_USER_ID, SON_BY_APP[zalo_app.app_id])
    drain()
    mai = ZaloPartnerLink.objects.get(zalo_user_id=MAI)
    link_tag(link=mai, tag="Hà Nội")
    page = admin_page(language)
    base = f"{live_server.url}/admin/partners/zalopartnerlink/?oa__id__exact={connected_oa.pk}"
    page.goto(base)
    # It should show the tag on Mai's row, and a filter by it.
    assert page.locator("#result_list a.zalo-tag").all_inner_texts() == ["Hà Nội"]
    page.locator("#changelist-filter a", has_text="Hà Nội").click()
    page.wait_for_url("**zalo_tag=**")
    assert page.locator("#result_list tbody tr").count() == 1
    page.screenshot(path=output_dir / f"zalo-tags-filtered-{language}.png")
    # Add a tag on Son's form: Zalo (the sandbox) has it, then the list.
    son = ZaloPartnerLink.objects.get(zalo_user_id=SON_SUPPORT_USER_ID)
    page.goto(f"{live_server.url}/admin/partners/zalopartnerlink/{son.pk}/change/")
    page.fill("#tag-add-name", "Đại lý")
    page.click("#btn-tag-add")
    page.wait_for_selector(".messagelist .success")
    assert "Đại lý" in sandbox.users[OA_SUPPORT_ID][SON_SUPPORT_USER_ID]["tag_names"]
    assert page.locator("#zalo-tags .btn-tag-remove[data-tag='Đại lý']").count() == 1
    page.screenshot(path=output_dir / f"zalo-tags-link-form-{language}.png")
    # The inbox's conversation shows the tags, each a link to the filtered list.
    conversation = Conversation.objects.get(zalo_user_id=SON_SUPPORT_USER_ID)
    page.goto(f"{live_server.url}/inbox/c/{conversation.pk}/")
    tag = page.locator("#zalo-tags a.zalo-tag")
    assert tag.all_inner_texts() == ["Đại lý"]
    tag.click()
    page.wait_for_url("**zalo_tag=**")
    assert page.locator("#result_list tbody tr").count() == 1
    page.screenshot(path=output_dir / f"zalo-tags-inbox-{language}.png")


@pytest.mark.parametrize("language", ["en", "vi"])
def test_a_zalo_admin_confirms_a_data_removal_request(
    admin_page, live_server, sandbox, connected_oa, zalo_app, output_dir, language
):
    _writes(zalo_app, MAI, "3104458812290779917")
    drain()
    raw = json.dumps(
        {
            "oa_id": OA_SUPPORT_ID,
            "user_id": MAI,
            "event_name": "user_withdraw",
            "app_id": zalo_app.app_id,
            "timestamp": str(int(time.time() * 1000)),
        }
    )
    assert post_webhook(Client(), zalo_app.app_id, raw, key=zalo_app.oa_secret_key).status_code
    drain()
    request = DataRemovalRequest.objects.get()
    page = admin_page(language)
    page.goto(f"{live_server.url}/admin/privacy/dataremovalrequest/")
    page.locator("#result_list tbody tr a").first.click()
    page.click("#btn-removal-confirm")
    assert "1" in page.locator("#removal-preview").inner_text()
    page.screenshot(path=output_dir / f"data-removal-confirm-{language}.png")
    page.click("#btn-confirm-removal")
    page.wait_for_selector(".messagelist .success")
    request.refresh_from_db()
    assert request.status == DataRemovalRequest.Status.REMOVED
    # The request's form now shows the audit, and the removal button is gone.
    assert page.locator("#btn-removal-confirm").count() == 0
    assert page.locator(".field-report_table").inner_text().count(":") >= 5
    page.screenshot(path=output_dir / f"data-removal-done-{language}.png")
