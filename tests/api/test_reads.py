"""Reads and the small writes: conversations (cursor pages, messages, mark read, assign),
partners (find by phone in any form, by reference, by Zalo link; upsert; links and
identity decisions), OAs with health, approved templates, quota."""

import pytest
from django.test import Client

from tests.api.conftest import SON, user_payload
from tests.helpers import post_webhook
from zalohub.events.processing.queue import drain
from zalohub.inbox.models import Conversation, OAMembership
from zalohub.partners.models import IdentityDecision, Partner, PartnerPhone
from zalohub.zbs.models import Template

pytestmark = pytest.mark.django_db


def _customer_writes(zalo_app, text: str, user_id: str = SON) -> None:
    raw = user_payload(text, user_id=user_id)
    assert (
        post_webhook(Client(), zalo_app.app_id, raw, key=zalo_app.oa_secret_key).status_code == 200
    )
    drain()


def test_conversations_page_by_cursor_without_gaps(api, zalo_app, oa):
    users = [f"57009{i:013d}" for i in range(5)]
    for user in users:
        _customer_writes(zalo_app, "Xin chào", user_id=user)
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        status, page, _ = api.get("/conversations", **params)
        assert status == 200
        seen += [c["id"] for c in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(
        Conversation.objects.order_by("-last_message_at", "-id").values_list("id", flat=True)
    )
    status, body, _ = api.get("/conversations", cursor="bm90LWEtY3Vyc29y")
    assert (status, body["code"]) == (400, "invalid_cursor")


def test_messages_mark_read_and_assign(api, zalo_app, oa, agent, admin, sales):
    _customer_writes(zalo_app, "Cho tôi hỏi giá")
    _customer_writes(zalo_app, "Còn hàng không?")
    conversation = Conversation.objects.get(zalo_user_id=SON)
    status, body, _ = api.get(f"/conversations/{conversation.pk}")
    assert body["unread_count"] == 2 and body["assigned_to"] is None
    status, page, _ = api.get(f"/conversations/{conversation.pk}/messages")
    assert [m["text"] for m in page["items"]] == ["Còn hàng không?", "Cho tôi hỏi giá"]
    assert all(m["direction"] == "in" for m in page["items"])
    assert api.post(f"/conversations/{conversation.pk}/read")[1] == {"changed": True}
    assert api.post(f"/conversations/{conversation.pk}/read")[1] == {"changed": False}
    assert api.get(f"/conversations/{conversation.pk}")[1]["unread_count"] == 0
    # An agent who is no member of the OA cannot be given it; a member can.
    status, body, _ = api.post(f"/conversations/{conversation.pk}/assign", {"username": "agent"})
    assert (status, body["code"]) == (422, "invalid_assignee")
    OAMembership.objects.create(user=agent, oa=oa)
    assert api.post(f"/conversations/{conversation.pk}/assign", {"username": "agent"})[0] == 200
    assert api.get(f"/conversations/{conversation.pk}")[1]["assigned_to"] == "agent"
    assert api.post(f"/conversations/{conversation.pk}/assign", {"username": None})[0] == 200
    assert api.get(f"/conversations/{conversation.pk}")[1]["assigned_to"] is None


@pytest.mark.parametrize(
    "typed", ["0912 345 678", "+84 912-345-678", "84912345678", "(091) 2345678"]
)
def test_find_a_partner_by_phone_in_any_form(api, oa, typed):
    partner = Partner.objects.create(name="Chị Lan")
    PartnerPhone.objects.create(partner=partner, number="0912345678", source="manual")
    Partner.objects.create(name="Người khác")
    status, page, _ = api.get("/partners", phone=typed)
    assert status == 200 and [p["id"] for p in page["items"]] == [partner.pk]
    assert page["items"][0]["phones"][0]["number"] == "84912345678"


def test_find_by_reference_and_zalo_link_and_bad_phone(api, oa, son, sales):
    son.external_refs = {"erp": "C-0042", "crm": "X9"}
    son.save()
    assert [
        p["id"] for p in api.get("/partners", system="erp", reference="C-0042")[1]["items"]
    ] == [son.pk]
    assert api.get("/partners", system="erp", reference="X9")[1]["items"] == []
    found = api.get("/partners", oa=oa.pk, user_id=SON)[1]["items"]
    assert [p["id"] for p in found] == [son.pk]
    assert api.get("/partners", oa=sales.pk, user_id=SON)[0] == 404
    status, body, _ = api.get("/partners", phone="12345")
    assert (status, body["code"]) == (422, "invalid_phone")
    assert api.get("/partners", user_id=SON)[0] == 400


def test_upsert_by_external_reference(api):
    body = {
        "system": "odoo",
        "reference": "res.partner,42",
        "name": "Cô Hoa",
        "phones": ["0912 345 678"],
    }
    status, created, _ = api.post("/partners/upsert", body)
    assert status == 201
    assert created["external_refs"] == {"odoo": "res.partner,42"}
    assert [p["number"] for p in created["phones"]] == ["84912345678"]
    body = {
        "system": "odoo",
        "reference": "res.partner,42",
        "email": "hoa@example.vn",
        "phones": ["+84 912 345 678", "0987 000 111"],
    }
    status, updated, _ = api.post("/partners/upsert", body)
    assert status == 200 and updated["id"] == created["id"]
    assert updated["name"] == "Cô Hoa" and updated["email"] == "hoa@example.vn"
    assert sorted(p["number"] for p in updated["phones"]) == ["84912345678", "84987000111"]
    assert Partner.objects.count() == 1
    status, problem, _ = api.post(
        "/partners/upsert", {"system": "odoo", "reference": "r2", "phones": ["12"]}
    )
    assert (status, problem["code"]) == (422, "invalid_phone")
    assert Partner.objects.count() == 1


def test_links_and_identity_decisions_of_the_keys_oas(make_key, oa, sales, son):
    from zalohub.partners.models import LinkMethod, ZaloPartnerLink

    other = ZaloPartnerLink.objects.create(
        partner=son, oa=sales, app=sales.app, zalo_user_id="999", link_method=LinkMethod.MANUAL
    )
    own = son.zalo_links.get(oa=oa)
    IdentityDecision.objects.create(
        link=own, partner=son, kind="verified", evidence={"by": "staff"}
    )
    IdentityDecision.objects.create(link=other, partner=son, kind="joined")
    _, api = make_key(oas=[oa])
    links = api.get(f"/partners/{son.pk}/links")[1]["items"]
    assert [link["id"] for link in links] == [own.pk]
    decisions = api.get(f"/partners/{son.pk}/identity-decisions")[1]["items"]
    assert [(d["kind"], d["link_id"]) for d in decisions] == [("verified", own.pk)]
    assert api.get(f"/partners/{son.pk}")[1]["name"] == "Nguyễn Văn Sơn"


def test_oas_templates_and_quota(api, oa, approved):
    from tests.zbs.conftest import make_template

    make_template(oa, name="Bản nháp")  # a draft: not listed
    status, page, _ = api.get("/oas")
    (item,) = page["items"]
    assert item["id"] == oa.pk and item["status"] == "connected" and item["token_valid"] is True
    assert item["token_expires_at"] and "health" in item
    templates = api.get(f"/oas/{oa.pk}/templates")[1]["items"]
    assert [t["id"] for t in templates] == [approved.pk]
    assert [p["name"] for p in templates[0]["params"]] == ["order_code", "customer_name"]
    assert Template.objects.filter(oa=oa).count() == 2
    status, quota, _ = api.get(f"/oas/{oa.pk}/quota")
    assert status == 200 and quota["oa"] == oa.pk and "remaining_quota" in quota
