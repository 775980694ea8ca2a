"""The inbox pages over HTTP: who may open what, replies, resend, assignment."""

import pytest
from django.test import Client

from zalohub.events.models import Direction, Message, ZaloState
from zalohub.events.outbound.oa_message import message_send
from zalohub.inbox.models import Conversation

from .conftest import SON, conversation_of, send_due


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_sends_anonymous_visitors_to_log_in(db):
    response = Client().get("/inbox/")
    # It should ask for a login, not show an error.
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_it_refuses_staff_without_the_inbox_role(outsider, auditor):
    for user in (outsider, auditor):
        response = _client(user).get("/inbox/")
        # It should say the account has no inbox access.
        assert response.status_code == 403
        assert b"no access to the inbox" in response.content


def test_it_shows_an_agent_the_oas_they_are_a_member_of(member, agent, other_oa, customer_writes):
    customer_writes("Xin chào shop")
    client = _client(agent)
    page = client.get("/inbox/")
    # It should list the member OA, with its conversations, and not the other OA.
    assert page.status_code == 200
    assert b"Support" in page.content and b"Sales" not in page.content
    assert "Xin chào shop" in page.content.decode()
    # It should answer the other OA, its conversations and replies to them as ids that
    # do not exist (404, not 403): a guessed id confirms nothing.
    assert client.get(f"/inbox/?oa={other_oa.pk}").status_code == 404
    theirs = message_send(oa=other_oa, user_id="77", text="x")
    conversation = Conversation.objects.get(oa=other_oa)
    for url in (f"/inbox/c/{conversation.pk}/", f"/inbox/c/{conversation.pk}/thread/"):
        assert client.get(url).status_code == 404
    assert client.post(f"/inbox/c/{conversation.pk}/reply/", {"text": "hi"}).status_code == 404
    assert client.post(f"/inbox/m/{theirs.pk}/resend/").status_code == 404
    missing = conversation.pk + theirs.pk + 1000
    assert client.get(f"/inbox/c/{missing}/").status_code == 404


def test_it_shows_an_admin_every_oa(admin, connected_oa, other_oa):
    page = _client(admin).get("/inbox/")
    # It should list all OAs for an admin, without memberships.
    assert b"Support" in page.content and b"Sales" in page.content
    assert _client(admin).get(f"/inbox/?oa={other_oa.pk}").status_code == 200


def test_it_opens_a_thread_and_marks_it_read(member, agent, customer_writes):
    customer_writes("Tin thứ nhất")
    customer_writes("Tin thứ hai")
    conversation = conversation_of()
    page = _client(agent).get(f"/inbox/c/{conversation.pk}/")
    text = page.content.decode()
    # It should show both messages in one group, the window band and the composer.
    assert "Tin thứ nhất" in text and "Tin thứ hai" in text
    assert text.count('class="ib-group-head"') == 1
    assert 'data-band="free"' in text and 'id="reply-form"' in text
    assert conversation_of().unread_count == 0


def test_it_replies_and_reports_refusals_as_json(member, agent, sandbox, customer_writes):
    customer_writes()
    conversation = conversation_of()
    client = _client(agent)
    url = f"/inbox/c/{conversation.pk}/reply/"
    # It should queue the reply and answer ok.
    ok = client.post(url, {"text": "Dạ em chào anh"})
    assert ok.status_code == 200 and ok.json()["ok"] is True
    # It should explain an empty message and a refused file.
    empty = client.post(url, {"text": "  "})
    assert empty.status_code == 400 and "empty" in empty.json()["error"]
    from django.core.files.uploadedfile import SimpleUploadedFile

    exe = client.post(url, {"file": SimpleUploadedFile("a.exe", b"MZ")})
    assert "JPG or PNG" in exe.json()["error"]


def test_it_resends_a_failed_message(member, agent, sandbox, customer_writes):
    customer_writes()
    sandbox.add_fault("oa.message.cs", "zalo_error", code=-230, times=1)
    message = message_send(oa=conversation_of().oa, user_id=SON, text="Chào anh")
    send_due()
    message.refresh_from_db()
    assert message.zalo_state == ZaloState.FAILED
    thread = _client(agent).get(f"/inbox/c/{conversation_of().pk}/thread/").content.decode()
    # It should show Failed, the reason as the tooltip, and a Resend button.
    assert 'data-status="failed"' in thread and "-230" in thread and "Resend" in thread
    answer = _client(agent).post(f"/inbox/m/{message.pk}/resend/")
    assert answer.json()["ok"] is True
    assert send_due() == ["sent"]
    message.refresh_from_db()
    assert message.zalo_state == ZaloState.SENT
    # It should refuse to resend a message that did not fail.
    again = _client(agent).post(f"/inbox/m/{message.pk}/resend/")
    assert again.status_code == 400


def test_it_tells_the_second_agent_who_took_the_conversation(member, agent, admin, customer_writes):
    customer_writes()
    conversation = conversation_of()
    url = f"/inbox/c/{conversation.pk}/assign/"
    assert _client(admin).post(url, {"assignment": "take"}).json()["ok"] is True
    late = _client(agent).post(url, {"assignment": "take"})
    # It should say who was first.
    assert late.status_code == 400 and "admin took" in late.json()["error"]
    # It should let the conversation be handed to a member, and released.
    handed = _client(admin).post(url, {"assignment": "assign", "user": agent.pk})
    assert handed.json()["ok"] is True and conversation_of().assigned_to == agent
    assert _client(agent).post(url, {"assignment": "release"}).json()["ok"] is True
    assert conversation_of().assigned_to is None


def test_it_keeps_vietnamese_for_vietnamese_speakers(member, agent, customer_writes):
    customer_writes()
    client = _client(agent)
    client.post("/i18n/setlang/", {"language": "vi", "next": "/inbox/"})
    page = client.get(f"/inbox/c/{conversation_of().pk}/")
    # It should render the page in the chosen language (catalogue permitting).
    assert page.status_code == 200 and '<html lang="vi">' in page.content.decode()


@pytest.mark.parametrize("kind", ["image", "file", "sticker", "link", "location", "audio"])
def test_it_shows_every_kind_the_pipeline_stores(member, agent, sandbox, customer_writes, kind):
    from zalohub.sandbox import payloads

    attachment = payloads.default_attachment(kind, base="http://127.0.0.1:1", msg_id="abc")
    customer_writes("", kind=kind, attachment=attachment)
    assert Message.objects.get(direction=Direction.INBOUND).kind == kind
    page = _client(agent).get(f"/inbox/c/{conversation_of().pk}/").content.decode()
    # It should show the attachment, not a blank bubble.
    assert f"ib-kind-{kind}" in page
    shown = {
        "image": "<img",
        "file": 'data-icon="file"',  # drawn, not an emoji (a box without emoji fonts)
        "sticker": "<img",
        "link": 'data-icon="link"',
        "location": 'data-icon="location"',
        "audio": "<audio",
    }
    assert shown[kind] in page


def test_a_closed_window_offers_the_oas_approved_templates(member, agent, customer_writes, sandbox):
    from datetime import timedelta

    from django.utils import timezone

    from zalohub.partners.models import ZaloPartnerLink
    from zalohub.sandbox.world import OA_SUPPORT_ID

    customer_writes()
    conversation = conversation_of()
    eight_days_ago = timezone.now() - timedelta(days=8)
    # Zalo's per-user quota decides the window (issue 16 §11): Zalo's customer last
    # interacted then too.
    customer = sandbox.users[OA_SUPPORT_ID][conversation.zalo_user_id]
    customer["last_interaction"] = int(eight_days_ago.timestamp())
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=eight_days_ago)
    ZaloPartnerLink.objects.filter(pk=conversation.partner_link_id).update(
        last_interaction_at=eight_days_ago
    )
    page = _client(agent).get(f"/inbox/c/{conversation.pk}/").content.decode()
    # It should say the window is closed and link to the OA's approved ZBS templates.
    assert 'data-band="closed"' in page
    picker = f"/admin/zbs/template/?oa__id__exact={conversation.oa_id}&amp;status__exact=approved"
    assert picker in page
    assert _client(agent).get(picker.replace("&amp;", "&")).status_code == 200
