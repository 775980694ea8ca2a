"""Duplicate detection: evidence-scored pairs, blocked values and big blocks ignored."""

import pytest

from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.partners.duplicates import duplicates_scan
from zalohub.partners.models import DuplicateSuggestion, Partner, PartnerPhone, ZaloPartnerLink

pytestmark = pytest.mark.django_db


def _partner(name: str, *, phone: str = "", email: str = "", verified: bool = False) -> Partner:
    partner = Partner.objects.create(name=name, email=email)
    if phone:
        PartnerPhone.objects.create(
            partner=partner, number=phone, source="manual", verified=verified
        )
    return partner


def _pair(a: Partner, b: Partner) -> DuplicateSuggestion:
    first, second = sorted((a.pk, b.pk))
    return DuplicateSuggestion.objects.get(first_id=first, second_id=second)


def test_it_finds_pairs_by_phone_email_app_id_and_name():
    son = _partner("Nguyễn Văn Sơn", phone="84912345678", verified=True)
    son2 = _partner("NGUYEN Van Son", phone="84912345678")
    lan = _partner("Lan", email="Lan@Example.com")
    lan2 = _partner("Lan Trần", email="lan@example.com")
    app = ZaloApp.objects.create(name="A", app_id="1001", secret_key="s")
    oa1 = OfficialAccount.objects.create(app=app, name="OA1", oa_id="1")
    oa2 = OfficialAccount.objects.create(app=app, name="OA2", oa_id="2")
    minh, minh2 = _partner("Minh"), _partner("Minh Lê")
    for oa, partner, uid in ((oa1, minh, "u1"), (oa2, minh2, "u2")):
        ZaloPartnerLink.objects.create(
            partner=partner,
            oa=oa,
            app=app,
            zalo_user_id=uid,
            user_id_by_app="same",
            link_method="manual",
        )
    result = duplicates_scan()
    # It should suggest each pair once, with the evidence and a score that ranks it.
    assert result.created == 3
    son_pair = _pair(son, son2)
    kinds = {r["kind"] for r in son_pair.reasons}
    assert kinds == {"same_phone", "similar_name"}
    assert son_pair.score == 95  # verified phone (90) plus independent name evidence (5)
    assert _pair(lan, lan2).reasons[0]["kind"] == "same_email"
    assert _pair(minh, minh2).score == 95
    # It should be idempotent: a second scan adds nothing.
    assert duplicates_scan().created == 0


def test_blocked_values_and_big_blocks_are_no_evidence(settings):
    _partner("A", phone="84999999999")
    _partner("B", phone="84999999999")
    settings.PARTNER_DUPLICATE_MAX_BLOCK = 3
    for i in range(4):
        _partner("Nguyễn Văn An", phone=f"8491200000{i}")
    result = duplicates_scan()
    # It should ignore a placeholder phone and a name shared by more than the block limit.
    assert result.skipped_blocked == 1
    assert result.created == 0


def test_merged_partners_are_not_suggested_again():
    a = _partner("Hoa", phone="84912000001")
    b = _partner("Hoa B", phone="84912000001")
    Partner.objects.filter(pk=b.pk).update(merged_into=a)
    assert duplicates_scan().created == 0


def test_an_admin_runs_the_scan_from_the_queue(client, admin, agent):
    _partner("Hoa", phone="84912000001")
    _partner("Hoa B", phone="84912000001")
    client.force_login(agent)
    assert client.post("/admin/partners/duplicatesuggestion/scan/").status_code == 403
    client.force_login(admin)
    page = client.get("/admin/partners/duplicatesuggestion/")
    assert b'id="btn-scan-duplicates"' in page.content
    client.post("/admin/partners/duplicatesuggestion/scan/")
    assert DuplicateSuggestion.objects.count() == 1
