"""The composer's offers once the free reply window has closed (issue 19), over HTTP: only
while no reply is free; the fields filled from the customer's record; who may send; a
refused send stores nothing; the send is zbs's, queued as any template send."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from tests.zbs.conftest import BODY, PARAMS
from zalohub.events.models import Message, ZaloState
from zalohub.events.window_offers import PROVIDERS
from zalohub.inbox.models import Conversation, OAMembership
from zalohub.partners.models import Partner, PartnerPhone, ZaloPartnerLink
from zalohub.sandbox.world import OA_SUPPORT_ID
from zalohub.zbs.models import Template, TemplateSend
from zalohub.zbs.window_offers import customer_value

from .conftest import conversation_of

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _approved(oa, **changes) -> Template:
    fields = {
        "name": "Xác nhận đơn hàng",
        "body": BODY,
        "params": [dict(p) for p in PARAMS],
        "status": Template.Status.APPROVED,
        "zalo_template_id": "318777",
        **changes,
    }
    return Template.objects.create(oa=oa, **fields)


def _close_the_window(sandbox, conversation: Conversation) -> None:
    eight_days_ago = timezone.now() - timedelta(days=8)
    sandbox.users[OA_SUPPORT_ID][conversation.zalo_user_id]["last_interaction"] = int(
        eight_days_ago.timestamp()
    )
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=eight_days_ago)
    ZaloPartnerLink.objects.filter(pk=conversation.partner_link_id).update(
        last_interaction_at=eight_days_ago
    )


@pytest.fixture
def closed(member, customer_writes, sandbox, connected_oa) -> Conversation:
    """Son's conversation, his window closed, his record named, the OA with a template."""
    customer_writes()
    conversation = conversation_of()
    Partner.objects.filter(pk=conversation.partner_link.partner_id).update(
        name="Nguyễn Văn Sơn", external_refs={"order_code": "DH8821"}
    )
    _approved(connected_oa)
    _close_the_window(sandbox, conversation)
    return conversation_of()


def test_it_registers_zbs_as_a_provider():
    # It should have zbs's offers registered by its AppConfig, not imported by the inbox.
    assert "zbs" in PROVIDERS


def test_the_offer_shows_only_while_no_reply_is_free(member, agent, customer_writes, sandbox):
    customer_writes()
    conversation = conversation_of()
    _approved(conversation.oa)
    page = _client(agent).get(f"/inbox/c/{conversation.pk}/").content.decode()
    # It should offer nothing while the free window is open.
    assert 'data-band="free"' in page
    assert 'id="window-offers"' not in page
    _close_the_window(sandbox, conversation)
    page = _client(agent).get(f"/inbox/c/{conversation.pk}/").content.decode()
    # It should offer the OA's Approved templates once Zalo says no reply is free.
    assert 'data-band="closed"' in page
    assert 'id="window-offers"' in page and "Xác nhận đơn hàng" in page


def test_it_fills_the_fields_from_the_customer_and_leaves_the_others_empty(closed, agent):
    _approved(
        closed.oa,
        name="Nhắc lịch hẹn khách hàng",
        zalo_template_id="318778",
        params=[
            {"name": "phone", "type": 2, "sample": "0901234567"},
            {"name": "time", "type": 11, "sample": "9:00"},
        ],
    )
    PartnerPhone.objects.create(
        partner=closed.partner_link.partner, number="0912 345 678", source="manual", verified=True
    )
    page = _client(agent).get(f"/inbox/c/{closed.pk}/").content.decode()
    # It should fill the name, the external reference and the phone (as Zalo takes it),
    # and leave a value the record does not hold for the agent.
    assert 'name="param_customer_name" value="Nguyễn Văn Sơn"' in page
    assert 'name="param_order_code" value="DH8821"' in page
    assert 'name="param_phone" value="84912345678"' in page
    assert 'name="param_time" value=""' in page


def test_a_placeholder_name_is_not_sent_as_the_customers_name(closed):
    link = closed.partner_link
    partner = link.partner
    partner.name = "Zalo user 340317"
    link.display_name = "Sơn Nguyễn"
    param = {"name": "customer_name", "type": 1}
    # It should greet by Zalo's display name rather than the shadow contact's placeholder.
    assert customer_value(partner, link, param) == "Sơn Nguyễn"
    partner.email = "son@example.vn"
    assert customer_value(partner, link, {"name": "email", "type": 5}) == "son@example.vn"


def test_one_post_queues_the_template_through_zbs(closed, agent):
    template = Template.objects.get(oa=closed.oa)
    response = _client(agent).post(
        f"/inbox/c/{closed.pk}/offer/",
        {
            "provider": "zbs",
            "key": str(template.pk),
            "param_order_code": "DH8821",
            "param_customer_name": "Anh Sơn",
        },
    )
    # It should queue one template send by the OA's policy (UID + Phone: the UID here).
    assert response.status_code == 200, response.content
    send = TemplateSend.objects.get()
    assert send.params == {"order_code": "DH8821", "customer_name": "Anh Sơn"}
    assert (send.route, send.user_id) == ("uid", closed.zalo_user_id)
    message = Message.objects.get(pk=response.json()["message_id"])
    assert (message.zalo_state, message.sent_by) == (ZaloState.ON_QUEUE, agent)
    assert message.zalo_user_id == closed.zalo_user_id  # in this thread


def test_a_refused_send_says_why_and_stores_nothing(closed, agent):
    template = Template.objects.get(oa=closed.oa)
    client = _client(agent)
    url = f"/inbox/c/{closed.pk}/offer/"
    cases = [
        ({"provider": "fax", "key": str(template.pk)}, "not available any more"),
        ({"provider": "zbs", "key": "999999"}, "not one of this OA's any more"),
        (
            {"provider": "zbs", "key": str(template.pk), "param_order_code": "DH8821"},
            "The parameter “customer_name” is missing.",
        ),
    ]
    for data, why in cases:
        response = client.post(url, data)
        # It should answer 400 with the reason, and queue nothing.
        assert response.status_code == 400
        assert why in response.json()["error"]
    assert not TemplateSend.objects.exists()
    assert not Message.objects.filter(kind=Message.Kind.TEMPLATE).exists()


def test_an_agent_without_the_send_permission_is_told_and_refused(closed, connected_oa):
    reader = User.objects.create_user("reader", password="x", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_conversation"))
    OAMembership.objects.create(user=reader, oa=connected_oa)
    client = _client(reader)
    page = client.get(f"/inbox/c/{closed.pk}/").content.decode()
    # It should say what is missing instead of offering templates it cannot send.
    assert "needs the permission to send templates" in page
    assert 'id="offer-choice"' not in page
    template = Template.objects.get(oa=closed.oa)
    response = client.post(
        f"/inbox/c/{closed.pk}/offer/",
        {"provider": "zbs", "key": str(template.pk), "param_order_code": "A1"},
    )
    assert response.status_code == 400
    assert "needs the permission to send templates" in response.json()["error"]
    assert not TemplateSend.objects.exists()
