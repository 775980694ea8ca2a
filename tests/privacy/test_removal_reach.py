"""A confirmed data removal reaches every place the hub keeps something about the person
(issue 16 §12): besides messages, events and API logs, the staff's notes and mentions,
the merge journal, ZBS sends and bulk recipients, rejected webhook requests, outbound
webhook deliveries and the inbox's search. Each app cleans its own tables
(``core.removal``); another customer of the same OA keeps everything."""

import json
import time
from typing import Any

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import models
from django.test import Client
from django.utils import translation

from tests.helpers import post_webhook
from tests.inbox.conftest import send_due
from tests.zbs.conftest import VALUES, Relay
from zalohub.events.models import Message
from zalohub.inbox.models import Conversation, Mention, OAMembership, TimelineEntry
from zalohub.inbox.search import conversation_match, messages_containing
from zalohub.inbox.services import conversation_reply
from zalohub.inbox.team import conversation_set_status, note_add
from zalohub.partners.merge import partner_merge
from zalohub.partners.models import DuplicateSuggestion, Partner, PartnerPhone, ZaloPartnerLink
from zalohub.partners.services import link_sync_profile
from zalohub.privacy.admin import report_rows
from zalohub.privacy.models import DataRemovalRequest
from zalohub.privacy.services import removal_confirm
from zalohub.sandbox import payloads
from zalohub.sandbox.customers import customer_send_message, customer_submit_info
from zalohub.sandbox.people import customer_withdraw
from zalohub.sandbox.world import (
    OA_SUPPORT_ID,
    SON_BY_APP,
    SON_PHONE,
    SON_SUPPORT_USER_ID,
)
from zalohub.zbs.bulk import bulk_run, bulk_start
from zalohub.zbs.sending import template_send

pytestmark = pytest.mark.django_db

MAI = "5830174629118340317"
MAI_BY_APP = "3104458812290779917"
MAI_PHONE = "84903555123"
MAI_TEXT = "Giao giúp em tới 45 Bạch Đằng nhé"
# Everything that names Mai: none of it may remain anywhere once she is removed.
MAI_STRINGS = [
    MAI,
    MAI_BY_APP,
    MAI_PHONE,
    "0903555123",
    "Trần Thị Mai",
    "Trần T. Mai",
    "mai.tran@example.vn",
    "45 Bạch Đằng",
    "Bạch Đằng",
]
# What she shares on Zalo: her phone and address.
MAI_INFO = {
    "name": "Trần Thị Mai",
    "phone": MAI_PHONE,
    "user_dob": "01/01/1990",
    "gender": "Nữ",
    "full_address": {"user_city": "Đà Nẵng", "user_address": "45 Bạch Đằng"},
}
SON_TEXT = "Anh Sơn hỏi giá sỉ áo thun"
SON_STRINGS = [SON_SUPPORT_USER_ID, SON_PHONE, "Nguyễn Văn Sơn", "son.nguyen@example.vn", SON_TEXT]
# Every app that keeps customers' data (the sandbox keeps its own, outside the hub).
APPS = [
    *("events", "inbox", "partners", "zbs", "webhooks", "apilog", "privacy", "core"),
    *("api", "accounts", "diagnostics", "admin"),
]


def text_columns() -> list[tuple[type[models.Model], list[str]]]:
    """Every text and JSON column of the apps' tables."""
    found = []
    for label in APPS:
        for model in apps.get_app_config(label).get_models():
            names = [
                f.attname
                for f in model._meta.concrete_fields
                if isinstance(f, models.CharField | models.TextField | models.JSONField)
            ]
            if names:
                found.append((model, names))
    return found


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    # JSON as stored either way (\\u escapes or not).
    return json.dumps(value, ensure_ascii=False) + json.dumps(value)


def rows_naming(strings: list[str]) -> dict[str, list[tuple[int, str, str]]]:
    """table -> (pk, column, string) for each column of each row that names any string."""
    found: dict[str, list[tuple[int, str, str]]] = {}
    for model, names in text_columns():
        for row in model._default_manager.values_list("pk", *names):
            pk, values = row[0], row[1:]
            for name, value in zip(names, values, strict=True):
                text = _as_text(value)
                for s in strings:
                    if s in text:
                        found.setdefault(model._meta.label, []).append((pk, name, s))
    return found


def raw_webhook(app, user_id: str, by_app: str, text: str) -> str:
    msg_id = f"rj{int(time.time() * 1_000_000) % 10**12:012d}"
    body = payloads.user_send(
        app_id=app.app_id,
        oa_id=OA_SUPPORT_ID,
        user_id=user_id,
        by_app=by_app,
        kind="text",
        msg_id=msg_id,
        timestamp=str(int(time.time() * 1000)),
        text=text,
    )
    return json.dumps(body, ensure_ascii=False)


def merge_a_duplicate(partner: Partner, *, name: str, email: str, phone: str, admin) -> None:
    """An older contact of the same person (same phone), suggested and merged into it."""
    dup = Partner.objects.create(name=name, email=email, is_shadow=False)
    PartnerPhone.objects.create(partner=dup, number=phone, source="manual", verified=True)
    first, second = sorted([partner.pk, dup.pk])
    DuplicateSuggestion.objects.create(
        first_id=first,
        second_id=second,
        score=90,
        reasons=[{"kind": "phone", "value": phone, "verified": True}],
    )
    partner_merge(survivor=partner, merged=dup, actor=admin)


def seed_everywhere(sandbox, oa, admin, agent, approved, subscribe, deliver, api) -> dict[str, Any]:
    """Mai and Son: each in every place the hub keeps something about a customer."""
    subscribe()  # every event type, every OA: deliveries with their messages and links
    relay = Relay(sandbox)
    customer_send_message(sandbox, oa_id=OA_SUPPORT_ID, user_id=MAI, text=MAI_TEXT)
    customer_send_message(sandbox, oa_id=OA_SUPPORT_ID, user_id=MAI, kind="image")
    customer_send_message(sandbox, oa_id=OA_SUPPORT_ID, user_id=SON_SUPPORT_USER_ID, text=SON_TEXT)
    relay()
    customer_submit_info(sandbox, oa_id=OA_SUPPORT_ID, user_id=MAI, info=MAI_INFO)
    relay()
    mai = ZaloPartnerLink.objects.get(zalo_user_id=MAI)
    son = ZaloPartnerLink.objects.get(zalo_user_id=SON_SUPPORT_USER_ID)
    for link in (mai, son):
        link_sync_profile(link=link)  # API log rows naming them
    Partner.objects.filter(pk=son.partner_id).update(name="Nguyễn Văn Sơn")
    PartnerPhone.objects.get_or_create(
        partner_id=son.partner_id, number=SON_PHONE, defaults={"source": "manual"}
    )
    mai.refresh_from_db()
    son.refresh_from_db()
    assert mai.partner.phones.filter(number=MAI_PHONE).exists()
    # The merge journal: an older contact of each, merged in.
    merge_a_duplicate(
        mai.partner, name="Trần T. Mai", email="mai.tran@example.vn", phone=MAI_PHONE, admin=admin
    )
    merge_a_duplicate(
        son.partner,
        name="Nguyễn V. Sơn",
        email="son.nguyen@example.vn",
        phone=SON_PHONE,
        admin=admin,
    )
    # The team's inbox: replies, notes quoting the customer with a mention, a status.
    OAMembership.objects.create(user=agent, oa=oa)
    mai_conv = Conversation.objects.get(oa=oa, zalo_user_id=MAI)
    son_conv = Conversation.objects.get(oa=oa, zalo_user_id=SON_SUPPORT_USER_ID)
    conversation_reply(conversation=mai_conv, actor=admin, text="Dạ, em ghi nhận ạ")
    conversation_reply(conversation=son_conv, actor=admin, text="Dạ anh chờ em chút")
    assert send_due() == ["sent", "sent"]
    note_add(
        conversation=mai_conv,
        actor=admin,
        text=f"Chị Trần Thị Mai ({MAI_PHONE}) dặn: '{MAI_TEXT}' @agent",
    )
    note_add(conversation=son_conv, actor=admin, text=f"{SON_TEXT}: báo giá cho anh @agent")
    note_add(conversation=son_conv, actor=admin, text="Khách do Trần Thị Mai giới thiệu")
    for conv in (mai_conv, son_conv):
        conversation_set_status(conversation=conv, status="pending", actor=admin)
    # ZBS: a send by phone to each, and a bulk send to both.
    for link, name in ((mai, "Trần Thị Mai"), (son, "Nguyễn Văn Sơn")):
        params = {**VALUES, "customer_name": name}
        template_send(partner=link.partner, template=approved, params=params, route_policy="phone")
    bulk = bulk_start(
        template=approved,
        partners=[mai.partner, son.partner],
        params={"order_code": "DH9000"},
        mapping={"customer_name": {"source": "name"}},
        route_policy="phone",
        enqueue=False,
    )
    assert bulk_run(bulk=bulk) == "done"
    # The integration API: each one's partner updated by the ERP, the answer (name,
    # email, phones) kept for the Idempotency-Key.
    for link, ref, name, email, phone in (
        (mai, "KH-MAI", "Trần Thị Mai", "mai.tran@example.vn", MAI_PHONE),
        (son, "KH-SON", "Nguyễn Văn Sơn", "son.nguyen@example.vn", SON_PHONE),
    ):
        Partner.objects.filter(pk=link.partner_id).update(external_refs={"erp": ref})
        body = {"system": "erp", "reference": ref, "name": name, "email": email, "phones": [phone]}
        status, answer, _response = api.post(
            "/partners/upsert", body, headers={"Idempotency-Key": f"upsert-{ref}"}
        )
        assert status == 200 and answer["id"] == link.partner_id and answer["email"] == email
    send_due()
    # The admin's history of changes to each one's partner.
    for link in (mai, son):
        LogEntry.objects.log_actions(
            user_id=admin.pk,
            queryset=[Partner.objects.get(pk=link.partner_id)],
            action_flag=CHANGE,
            change_message=f"Changed name ({link.zalo_user_id}).",
        )
    # Rejected webhook requests kept for inspection: a forged copy of each one's message.
    app = oa.app
    for user_id, by_app, text in (
        (MAI, MAI_BY_APP, MAI_TEXT),
        (SON_SUPPORT_USER_ID, SON_BY_APP[app.app_id], SON_TEXT),
    ):
        raw = raw_webhook(app, user_id, by_app, text)
        forged = post_webhook(Client(), app.app_id, raw, key="not-the-key")
        assert forged.status_code in (400, 401, 403)
    # Outbound webhooks: everything queued so far goes out (the delivery log fills).
    deliver()
    return {"mai": mai, "son": son, "mai_conv": mai_conv, "son_conv": son_conv}


def test_the_removal_reaches_every_place_and_leaves_the_other_customer(
    sandbox, connected_oa, admin, agent, approved, subscribe, deliver, api
):
    seeded = seed_everywhere(sandbox, connected_oa, admin, agent, approved, subscribe, deliver, api)
    before = rows_naming(MAI_STRINGS)
    # Every place is seeded (the test could not pass by finding nothing to remove).
    for table in [
        "events.Message",
        "events.ZaloEvent",
        "events.RejectedRequest",
        "inbox.TimelineEntry",
        "partners.MergeJournal",
        "partners.DuplicateSuggestion",
        "partners.Partner",
        "zbs.TemplateSend",
        "webhooks.Delivery",
        "apilog.ApiLog",
        "api.IdempotentRequest",
        "admin.LogEntry",
    ]:
        assert table in before, table
    assert Mention.objects.filter(entry__conversation=seeded["mai_conv"]).exists()
    son_before = rows_naming(SON_STRINGS)
    son_notes = list(
        TimelineEntry.objects.filter(conversation=seeded["son_conv"]).values_list("text", flat=True)
    )

    relay = Relay(sandbox)
    customer_withdraw(sandbox, oa_id=OA_SUPPORT_ID, user_id=MAI)
    relay()
    done = removal_confirm(request=DataRemovalRequest.objects.get(), actor=admin)

    # Nothing names Mai any more: no id, phone, name, email or word she wrote.
    assert rows_naming(MAI_STRINGS) == {}
    # Nor does the inbox's search find her (index on SQLite, trigrams on PostgreSQL).
    assert not messages_containing("Bạch Đằng").exists()
    for query in ("Trần Thị Mai", MAI, MAI_PHONE, "Bạch Đằng"):
        assert not Conversation.objects.filter(conversation_match(query)).exists(), query
    # Rows other rows point at stay, anonymized: her conversation, messages, notes.
    mai_conv = Conversation.objects.get(pk=seeded["mai_conv"].pk)
    assert mai_conv.zalo_user_id == f"removed-{done.pk}"
    notes = TimelineEntry.objects.filter(conversation=mai_conv, kind=TimelineEntry.Kind.NOTE)
    assert notes.count() == 1 and notes.get().text == ""
    assert not Mention.objects.filter(entry__conversation=mai_conv, read_at__isnull=True).exists()
    assert Message.objects.filter(zalo_user_id=f"removed-{done.pk}").count() >= 4

    # Son keeps everything: every column that named him still does (the withdraw's
    # relay may bring more, his receipts), his notes unchanged
    # but for Mai's name in the one that gave it, and his messages are still found.
    son_after = rows_naming(SON_STRINGS)
    for table, places in son_before.items():
        assert set(places) <= set(son_after.get(table, [])), table
    after = list(
        TimelineEntry.objects.filter(conversation=seeded["son_conv"]).values_list("text", flat=True)
    )
    assert after == [t.replace("Trần Thị Mai", "[removed]") for t in son_notes]
    assert messages_containing("giá sỉ áo thun").exists()
    son_found = Conversation.objects.filter(conversation_match("Nguyễn Văn Sơn"))
    assert list(son_found) == [seeded["son_conv"]]
    assert Partner.objects.get(pk=seeded["son"].partner_id).phones.filter(number=SON_PHONE)

    # The audit: how much was removed from each table, never what.
    report = done.report
    expected_at_least = {
        "messages": 4,
        "message_texts": 2,
        "conversations": 1,
        "staff_notes": 2,  # hers, and Son's that named her
        "mentions": 1,
        "events": 3,
        "rejected_requests": 1,
        "api_logs": 2,
        "template_sends": 2,  # one alone, one in the bulk send
        "bulk_recipients": 1,
        "webhook_deliveries": 2,
        "merge_journals": 1,
        "duplicate_suggestions": 1,
        "merged_partners": 1,
        "api_answers": 1,
        "admin_history": 1,
    }
    for key, least in expected_at_least.items():
        assert report[key] >= least, (key, report)
    assert report["partner"] == "anonymized"
    labels = dict(report_rows(report))
    assert labels["Staff notes emptied"] == str(report["staff_notes"])
    assert labels["Webhook deliveries emptied"] == str(report["webhook_deliveries"])
    with translation.override("vi"):
        assert dict(report_rows(report))["Ghi chú nội bộ đã làm trống"] == str(
            report["staff_notes"]
        )
    # The thread shows the emptied note as removed, in the reader's language.
    client = Client()
    client.force_login(admin)
    thread = client.get(f"/inbox/c/{mai_conv.pk}/").content.decode()
    assert "<em>Removed with the customer's data.</em>" in thread
    with translation.override("vi"):
        thread = client.get(
            f"/inbox/c/{mai_conv.pk}/", headers={"accept-language": "vi"}
        ).content.decode()
    assert "<em>Đã xóa cùng dữ liệu của khách hàng.</em>" in thread
