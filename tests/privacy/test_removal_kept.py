"""A removal on one OA of a customer another OA also knows (issue 16 §12): everything of
that OA goes, the partner they share stays, with its name, phones and merge history;
only the removed Zalo id leaves those."""

import json

import pytest
from django.utils import translation

from tests.inbox.conftest import send_due
from tests.privacy.test_removal_reach import merge_a_duplicate, rows_naming
from tests.zbs.conftest import VALUES, Relay
from zalohub.accounts.models import OfficialAccount
from zalohub.partners.models import (
    DuplicateSuggestion,
    LinkMethod,
    MergeJournal,
    Partner,
    PartnerPhone,
    ZaloPartnerLink,
    shown_name,
)
from zalohub.partners.removal import REMOVED_NAME
from zalohub.privacy.models import DataRemovalRequest
from zalohub.privacy.services import removal_confirm
from zalohub.sandbox.customers import customer_send_message
from zalohub.sandbox.people import customer_withdraw
from zalohub.sandbox.world import OA_SUPPORT_ID, SON_PHONE, SON_SALES_USER_ID
from zalohub.sandbox.world import SON_SUPPORT_USER_ID as SON
from zalohub.zbs.models import TemplateSend
from zalohub.zbs.sending import template_send

pytestmark = pytest.mark.django_db

SON_TEXT = "Cho anh hỏi đơn DH-5521 tới đâu rồi"


def test_a_partner_other_oas_link_to_stays_and_loses_only_the_removed_id(
    sandbox, connected_oa, zalo_app, admin, approved
):
    relay = Relay(sandbox)
    customer_send_message(sandbox, oa_id=OA_SUPPORT_ID, user_id=SON, text=SON_TEXT)
    relay()
    link = ZaloPartnerLink.objects.get(zalo_user_id=SON)
    partner = link.partner
    Partner.objects.filter(pk=partner.pk).update(name="Nguyễn Văn Sơn")
    PartnerPhone.objects.create(partner=partner, number=SON_PHONE, source="manual", verified=True)
    sales = OfficialAccount.objects.create(app=zalo_app, name="Sales", oa_id="4310500000000009999")
    ZaloPartnerLink.objects.create(
        partner=partner,
        oa=sales,
        app=zalo_app,
        zalo_user_id=SON_SALES_USER_ID,
        is_shadow=False,
        link_method=LinkMethod.MANUAL,
    )
    merge_a_duplicate(
        Partner.objects.get(pk=partner.pk),
        name="Nguyễn V. Sơn",
        email="son.nguyen@example.vn",
        phone=SON_PHONE,
        admin=admin,
    )
    # A suggestion whose evidence is his Support id (one more duplicate, not merged).
    other = Partner.objects.create(name="Sơn (cũ)", is_shadow=False)
    first, second = sorted([partner.pk, other.pk])
    DuplicateSuggestion.objects.create(
        first_id=first, second_id=second, score=60, reasons=[{"kind": "uid", "value": SON}]
    )
    send = template_send(partner=partner, template=approved, params=VALUES, route_policy="phone")
    send_due()
    customer_withdraw(sandbox, oa_id=OA_SUPPORT_ID, user_id=SON)
    relay()

    done = removal_confirm(request=DataRemovalRequest.objects.get(), actor=admin)

    # The Support OA keeps nothing of him: his id and what he wrote are gone everywhere.
    assert rows_naming([SON, SON_TEXT]) == {}
    send.refresh_from_db()
    assert (send.phone, send.user_id, send.params) == ("", "", {})
    assert TemplateSend.objects.filter(pk=send.pk, message__text="").exists()
    # The partner stays, as the Sales OA's customer: name, phones, merge history.
    partner.refresh_from_db()
    assert partner.name == "Nguyễn Văn Sơn"
    assert partner.phones.filter(number=SON_PHONE).exists()
    assert ZaloPartnerLink.objects.filter(
        partner=partner, oa=sales, zalo_user_id=SON_SALES_USER_ID
    ).exists()
    journal = MergeJournal.objects.get(survivor=partner)
    merged_before = journal.snapshot["merged_before"]
    assert (merged_before["name"], merged_before["email"]) == (
        "Nguyễn V. Sơn",
        "son.nguyen@example.vn",
    )
    suggestion = DuplicateSuggestion.objects.get(first_id=first, second_id=second)
    assert suggestion.reasons == [{"kind": "uid", "value": "[removed]"}]
    merged_pair = DuplicateSuggestion.objects.exclude(pk=suggestion.pk).get()
    assert merged_pair.reasons[0]["value"] == SON_PHONE  # the partner's phone, kept
    assert done.report["partner"] == "kept" and done.report["other_links"] == 1
    assert done.report["template_sends"] == 1 and done.report["duplicate_suggestions"] == 1
    assert SON not in json.dumps(done.report)


def test_an_anonymized_partner_reads_as_removed_in_each_language():
    name = REMOVED_NAME % {"n": 7}
    assert shown_name(name) == "Removed customer 7"
    with translation.override("vi"):
        assert shown_name(name) == "Khách hàng đã xóa 7"
