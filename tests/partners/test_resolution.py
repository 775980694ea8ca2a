"""Identity resolution: one real customer stays one partner across OAs (issue: partners)."""

import threading

import pytest
from django.db import connection

from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.partners.models import (
    DuplicateSuggestion,
    IdentityDecision,
    LinkMethod,
    Partner,
    PartnerPhone,
    ZaloPartnerLink,
)
from zalohub.partners.phones import InvalidPhone, is_blocked_phone, normalize_phone
from zalohub.partners.resolution import (
    ZaloUser,
    link_record_shared_phone,
    link_set_following,
    link_verify,
    resolve_link,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def apps_and_oas(db):
    app_a = ZaloApp.objects.create(name="A", app_id="1001", secret_key="s-a")
    app_b = ZaloApp.objects.create(name="B", app_id="1002", secret_key="s-b")
    return {
        "support": OfficialAccount.objects.create(app=app_a, name="Support OA", oa_id="9001"),
        "support2": OfficialAccount.objects.create(app=app_a, name="Support 2", oa_id="9003"),
        "sales": OfficialAccount.objects.create(app=app_b, name="Sales OA", oa_id="9002"),
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0912345678", "84912345678"),
        ("+84 912 345 678", "84912345678"),
        ("84912345678", "84912345678"),
        ("091-234-5678", "84912345678"),
    ],
)
def test_it_normalises_vietnamese_phones(raw, expected):
    # It should write every valid Vietnamese number as Zalo does: 84xxxxxxxxx.
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["", "12345", "+1 415 555 0100", "+44 20 7946 0958", "abc"])
def test_it_refuses_foreign_and_invalid_phones(raw):
    # It should refuse numbers that are not valid Vietnamese numbers.
    with pytest.raises(InvalidPhone):
        normalize_phone(raw)


def test_it_blocks_placeholder_and_configured_phones(settings):
    # It should never treat a placeholder number as anybody's identity.
    assert is_blocked_phone("84999999999")
    assert is_blocked_phone("84123456789")
    assert not is_blocked_phone("84912345678")
    settings.PARTNER_BLOCKED_PHONES = {"84912345678"}
    assert is_blocked_phone("84912345678")


def test_it_creates_a_shadow_contact_for_an_unknown_user(apps_and_oas):
    # It should create one shadow partner and one shadow link, and journal why.
    user = ZaloUser(zalo_user_id="u-1", user_id_by_app="a-1", display_name="Sơn")
    link = resolve_link(oa=apps_and_oas["support"], user=user)
    assert link.is_shadow and link.partner.is_shadow
    assert link.partner.name == "Sơn"
    assert link.link_method == LinkMethod.NEW_SHADOW
    decision = IdentityDecision.objects.get(link=link)
    assert decision.kind == IdentityDecision.Kind.NEW_SHADOW
    # It should return the same link for the same user, however often asked.
    again = resolve_link(oa=apps_and_oas["support"], user=user)
    assert again.pk == link.pk
    assert Partner.objects.count() == 1


def test_the_same_app_id_in_another_oa_of_the_app_is_the_same_partner(apps_and_oas):
    # It should join a new OA's link to the partner already known by user_id_by_app.
    first = resolve_link(oa=apps_and_oas["support"], user=ZaloUser("u-1", "by-app-1"))
    second = resolve_link(oa=apps_and_oas["support2"], user=ZaloUser("u-2", "by-app-1"))
    assert second.partner_id == first.partner_id
    assert second.link_method == LinkMethod.SAME_APP_USER
    assert second.evidence["other_link"] == first.pk
    assert Partner.objects.count() == 1


def test_a_user_id_by_app_of_another_app_joins_nothing(apps_and_oas):
    # It should not join across apps: user_id_by_app is scoped per app.
    first = resolve_link(oa=apps_and_oas["support"], user=ZaloUser("u-1", "by-app-1"))
    other = resolve_link(oa=apps_and_oas["sales"], user=ZaloUser("u-9", "by-app-1"))
    assert other.partner_id != first.partner_id


def test_a_blocked_user_id_by_app_joins_nothing(apps_and_oas, settings):
    # It should keep test accounts apart even when they share a configured id.
    settings.PARTNER_BLOCKED_USER_IDS = {"test-id"}
    first = resolve_link(oa=apps_and_oas["support"], user=ZaloUser("u-1", "test-id"))
    second = resolve_link(oa=apps_and_oas["support2"], user=ZaloUser("u-2", "test-id"))
    assert second.partner_id != first.partner_id


def test_mr_son_on_two_apps_becomes_one_partner_through_his_phone(apps_and_oas):
    # It should join Mr. Son's Sales link to his verified partner once he shares his phone.
    support = resolve_link(oa=apps_and_oas["support"], user=ZaloUser("son-s", "son-a"))
    link_record_shared_phone(link=support, raw_phone="0912345678", name="Nguyễn Văn Sơn")
    son = Partner.objects.get(pk=support.partner_id)
    assert not son.is_shadow and son.name == "Nguyễn Văn Sơn"
    sales = resolve_link(oa=apps_and_oas["sales"], user=ZaloUser("son-b", "son-b-app"))
    assert sales.partner_id != son.pk and sales.partner.is_shadow
    decision = link_record_shared_phone(link=sales, raw_phone="84912345678")
    sales.refresh_from_db()
    assert decision.kind == IdentityDecision.Kind.JOINED
    assert sales.partner_id == son.pk and not sales.is_shadow
    assert set(son.zalo_links.values_list("oa__name", flat=True)) == {"Support OA", "Sales OA"}
    # It should leave the emptied shadow contact redirecting to the survivor.
    shadow = Partner.objects.exclude(pk=son.pk).get()
    assert shadow.resolved() == son


def test_conflicting_evidence_is_suggested_not_merged(apps_and_oas):
    # It should suggest, not merge, when the phone's owner is ambiguous.
    a = resolve_link(oa=apps_and_oas["support"], user=ZaloUser("u-1"))
    b = resolve_link(oa=apps_and_oas["sales"], user=ZaloUser("u-2"))
    link_record_shared_phone(link=a, raw_phone="0912345678")
    Partner.objects.filter(pk=b.partner_id).update(email="someone@example.com")
    b.refresh_from_db()
    decision = link_record_shared_phone(link=b, raw_phone="0912345678")
    assert decision.kind == IdentityDecision.Kind.SUGGESTED
    assert a.partner_id != b.partner_id
    suggestion = DuplicateSuggestion.objects.get()
    assert {suggestion.first_id, suggestion.second_id} == {a.partner_id, b.partner_id}
    assert suggestion.reasons[0]["kind"] == "same_phone"


@pytest.mark.parametrize(
    ("phone", "kind"),
    [("0999999999", "blocked"), ("+1 415 555 0100", "invalid"), ("", "invalid")],
)
def test_blocked_and_invalid_phones_verify_nothing(apps_and_oas, phone, kind):
    # It should record a blocked or invalid phone and change nothing else.
    link = resolve_link(oa=apps_and_oas["support"], user=ZaloUser("u-1"))
    decision = link_record_shared_phone(link=link, raw_phone=phone)
    assert decision.kind == kind
    link.refresh_from_db()
    assert link.is_shadow and link.partner.is_shadow
    assert not PartnerPhone.objects.exists()


def test_staff_can_attach_a_shadow_link_to_an_existing_partner(apps_and_oas, admin):
    # It should move the link, verify it, and redirect the emptied shadow contact.
    known = Partner.objects.create(name="Khách quen")
    link = resolve_link(oa=apps_and_oas["support"], user=ZaloUser("u-1"))
    shadow = link.partner
    link = link_verify(link=link, actor=admin, into=known)
    assert link.partner_id == known.pk and not link.is_shadow
    shadow.refresh_from_db()
    assert shadow.merged_into_id == known.pk
    assert IdentityDecision.objects.filter(kind="verified", actor=admin).exists()


def test_follow_state_keeps_the_newest_event(apps_and_oas):
    # It should not let a late follow overwrite a newer unfollow.
    from datetime import timedelta

    from django.utils import timezone

    link = resolve_link(oa=apps_and_oas["support"], user=ZaloUser("u-1"))
    now = timezone.now()
    link_set_following(link=link, following=False, when=now)
    link_set_following(link=link, following=True, when=now - timedelta(minutes=5))
    assert link.is_follower is False
    link_set_following(link=link, following=True, when=now + timedelta(minutes=1))
    assert link.is_follower is True


@pytest.mark.django_db(transaction=True)
def test_two_workers_resolving_one_user_make_one_link(apps_and_oas):
    # It should end with one link and one partner when two workers race.
    oa = apps_and_oas["support"]
    barrier = threading.Barrier(2)
    results: list[int] = []

    def work() -> None:
        try:
            barrier.wait()
            results.append(resolve_link(oa=oa, user=ZaloUser("racer", "r-app")).partner_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ZaloPartnerLink.objects.filter(oa=oa, zalo_user_id="racer").count() == 1
    assert len(set(results)) == 1
