"""A person's data-removal request (issue 16 §12): ``user_withdraw`` records a request a
Zalo Admin confirms; the removal anonymizes the partner link, its messages and
attachments, the stored events and API log rows that name the person, and the request
keeps the audit of what was removed."""

import json

import pytest
from django.test import Client

from tests.inbox.conftest import send_due
from tests.zbs.conftest import Relay
from zalohub.apilog.models import ApiLog
from zalohub.events.models import Message, Outcome, ZaloEvent
from zalohub.inbox.models import Conversation, SentImage
from zalohub.inbox.services import conversation_reply
from zalohub.partners.models import Partner, PartnerPhone, ZaloPartnerLink, ZaloTagging
from zalohub.partners.services import link_sync_profile
from zalohub.partners.tags import link_tag
from zalohub.privacy.models import DataRemovalRequest
from zalohub.privacy.services import RemovalRefused, removal_confirm
from zalohub.sandbox.customers import customer_send_message
from zalohub.sandbox.people import customer_withdraw
from zalohub.sandbox.world import OA_SUPPORT_ID

pytestmark = pytest.mark.django_db

MAI = "5830174629118340317"


@pytest.fixture
def mai(sandbox, connected_oa, admin) -> ZaloPartnerLink:
    """Mai wrote (text and a picture), was answered with a picture, tagged and synced."""
    relay = Relay(sandbox)
    customer_send_message(sandbox, oa_id=OA_SUPPORT_ID, user_id=MAI, text="Địa chỉ: 1 Lê Lợi")
    customer_send_message(sandbox, oa_id=OA_SUPPORT_ID, user_id=MAI, kind="image")
    relay()
    link = ZaloPartnerLink.objects.get(zalo_user_id=MAI)
    link_sync_profile(link=link)
    link_tag(link=link, tag="Khách sỉ")
    PartnerPhone.objects.create(partner=link.partner, number="84912000111", source="manual")
    conversation = Conversation.objects.get(oa=connected_oa, zalo_user_id=MAI)
    sent = conversation_reply(conversation=conversation, actor=admin, text="Dạ, em ghi nhận")
    SentImage.objects.create(message=sent, content=b"\x89PNG", content_type="image/png")
    assert send_due() == ["sent"]
    link.refresh_from_db()
    return link


def test_withdraw_records_a_request_once_and_removes_nothing_yet(sandbox, connected_oa, mai):
    relay = Relay(sandbox)
    customer_withdraw(sandbox, oa_id=OA_SUPPORT_ID, user_id=MAI)
    sandbox.advance_clock(60)
    customer_withdraw(sandbox, oa_id=OA_SUPPORT_ID, user_id=MAI)  # asked again
    relay()
    events = ZaloEvent.objects.filter(event_name="user_withdraw")
    assert events.count() == 2 and {e.outcome for e in events} == {Outcome.HANDLED}
    request = DataRemovalRequest.objects.get()
    assert request.status == DataRemovalRequest.Status.PENDING
    assert request.link == mai and request.subject_name == "Trần Thị Mai"
    assert Message.objects.filter(zalo_user_id=MAI).exclude(text="").count() == 2


def test_confirming_anonymizes_the_person_and_keeps_the_audit(sandbox, connected_oa, mai, admin):
    relay = Relay(sandbox)
    customer_withdraw(sandbox, oa_id=OA_SUPPORT_ID, user_id=MAI)
    relay()
    request = DataRemovalRequest.objects.get()
    messages_before = Message.objects.filter(zalo_user_id=MAI).count()
    done = removal_confirm(request=request, actor=admin)
    new = f"removed-{request.pk}"
    # The messages: no text, no attachments, no pictures, no user id.
    assert not Message.objects.filter(zalo_user_id=MAI).exists()
    kept = Message.objects.filter(zalo_user_id=new)
    assert kept.count() == messages_before
    assert set(kept.values_list("text", flat=True)) == {""}
    assert all(a == [] for a in kept.values_list("attachments", flat=True))
    assert not SentImage.objects.filter(message__in=kept).exists()
    # The link and (no other OA links to it) the partner.
    link = ZaloPartnerLink.objects.get(pk=mai.pk)
    assert (link.zalo_user_id, link.display_name, link.avatar, link.user_id_by_app) == (
        new,
        "",
        "",
        "",
    )
    assert link.tag_names == [] and not ZaloTagging.objects.filter(link=link).exists()
    partner = Partner.objects.get(pk=mai.partner_id)
    assert partner.name == f"Removed customer {request.pk}" and not partner.phones.exists()
    # The stored events and API log rows no longer name her or say what she wrote.
    for event in ZaloEvent.objects.filter(oa=connected_oa):
        assert MAI not in event.raw_body and "Lê Lợi" not in event.raw_body
        assert MAI not in json.dumps(event.headers)
    for log in ApiLog.objects.filter(oa=connected_oa):
        assert MAI not in log.url + log.request_body + log.response_body
    assert Conversation.objects.filter(zalo_user_id=new).count() == 1
    # The audit: what was removed, by whom, never the data.
    assert done.status == DataRemovalRequest.Status.REMOVED
    assert done.decided_by == admin and done.zalo_user_id == "" and done.subject_name == ""
    assert done.report["messages"] == messages_before
    assert done.report["attachments"] >= 1 and done.report["sent_images"] == 1
    assert done.report["partner"] == "anonymized" and done.report["tags"] == 1
    assert MAI not in json.dumps(done.report)
    # Decided once.
    with pytest.raises(RemovalRefused):
        removal_confirm(request=done, actor=admin)


def test_a_removal_waits_for_the_persons_events_still_queued(sandbox, connected_oa, mai, admin):
    relay = Relay(sandbox)
    customer_withdraw(sandbox, oa_id=OA_SUPPORT_ID, user_id=MAI)
    relay()
    ZaloEvent.objects.filter(zalo_user_id=MAI, event_name="user_send_text").update(
        processing_state="queued"
    )
    with pytest.raises(RemovalRefused, match="still wait"):
        removal_confirm(request=DataRemovalRequest.objects.get(), actor=admin)
    assert Message.objects.filter(zalo_user_id=MAI).exclude(text="").exists()


def test_only_a_zalo_admin_confirms_on_the_confirmation_page(
    sandbox, connected_oa, mai, admin, agent
):
    relay = Relay(sandbox)
    customer_withdraw(sandbox, oa_id=OA_SUPPORT_ID, user_id=MAI)
    relay()
    request = DataRemovalRequest.objects.get()
    url = f"/admin/privacy/dataremovalrequest/{request.pk}/confirm/"
    as_agent = Client()
    as_agent.force_login(agent)
    assert as_agent.post(url, {"decision": "remove"}).status_code == 403
    as_admin = Client()
    as_admin.force_login(admin)
    form = as_admin.get(f"/admin/privacy/dataremovalrequest/{request.pk}/change/")
    assert 'id="btn-removal-confirm"' in form.content.decode()
    page = as_admin.get(url).content.decode()
    assert 'id="btn-confirm-removal"' in page and "Trần Thị Mai" in page
    assert as_admin.post(url, {"decision": "remove"}).status_code == 302
    request.refresh_from_db()
    assert request.status == DataRemovalRequest.Status.REMOVED
    audit = as_admin.get(f"/admin/privacy/dataremovalrequest/{request.pk}/change/")
    text = audit.content.decode()
    assert "Messages anonymized" in text and "Trần Thị Mai" not in text
