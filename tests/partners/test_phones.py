"""Phones typed by staff, imports and other systems: stored as Zalo writes them, so the
duplicate scan matches them (issue 14 §4)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.helpers import fixture, post_webhook
from zalohub.events.processing.queue import drain
from zalohub.partners.contacts import partner_add_phone, partner_create
from zalohub.partners.duplicates import duplicates_scan
from zalohub.partners.models import DuplicateSuggestion, Partner, PartnerPhone
from zalohub.partners.phones import InvalidPhone

TYPED = ["0912 345 678", "+84 912-345-678", "0912345678"]
ADD_URL = "/admin/partners/partner/add/"


def _partner_form(name: str, phone: str) -> dict[str, str]:
    """The partner admin's add form with one phone row, as a browser posts it."""
    return {
        "name": name,
        "email": "",
        "notes": "",
        "external_refs": "{}",
        "phones-TOTAL_FORMS": "1",
        "phones-INITIAL_FORMS": "0",
        "phones-MIN_NUM_FORMS": "0",
        "phones-MAX_NUM_FORMS": "1000",
        "phones-0-number": phone,
        "phones-0-source": "manual",
        "zalo_links-TOTAL_FORMS": "0",
        "zalo_links-INITIAL_FORMS": "0",
        "decisions-TOTAL_FORMS": "0",
        "decisions-INITIAL_FORMS": "0",
    }


@pytest.mark.django_db
@pytest.mark.parametrize("typed", TYPED)
def test_each_typed_form_is_stored_as_zalo_writes_it(client, admin, typed):
    client.force_login(admin)
    response = client.post(ADD_URL, _partner_form("Nguyễn Văn Sơn", typed))
    # It should save the admin's form and store the number as 84xxxxxxxxx.
    assert response.status_code == 302, response.content.decode()[:3000]
    assert PartnerPhone.objects.get().number == "84912345678"
    # It should do the same for other systems (API, import) and for a plain save.
    api = partner_create(name="Sơn (ERP)", phones=[typed])
    assert api.phones.get().number == "84912345678"
    other = Partner.objects.create(name="Sơn (import)")
    assert PartnerPhone.objects.create(partner=other, number=typed, source="api").number == (
        "84912345678"
    )
    assert partner_add_phone(partner=other, phone=typed).pk == other.phones.get().pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("12345", "not a valid Vietnamese phone number"),
        ("+1 650 253 0000", "not a Vietnamese phone number"),
    ],
)
def test_the_admin_form_says_what_is_not_a_vietnamese_phone(client, admin, typed, error):
    client.force_login(admin)
    response = client.post(ADD_URL, _partner_form("Khách lạ", typed))
    # It should keep the form open with the reason on the phone, and store nothing.
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Partner.objects.exists() and not PartnerPhone.objects.exists()
    with pytest.raises(InvalidPhone):
        partner_create(name="Khách lạ", phones=[typed])
    assert not Partner.objects.exists()


@pytest.mark.django_db
def test_the_phone_error_is_in_the_readers_language(client, admin):
    client.force_login(admin)
    response = client.post(
        ADD_URL, _partner_form("Khách lạ", "+1 650 253 0000"), HTTP_ACCEPT_LANGUAGE="vi"
    )
    # It should explain the refusal in Vietnamese to a Vietnamese reader.
    assert "không phải số điện thoại Việt Nam" in response.content.decode()


@pytest.mark.django_db
def test_the_duplicate_scan_finds_the_seeds_own_case(client, admin, zalo_app, connected_oa):
    """The seed: Mr. Son is a partner staff typed in ("0912 345 678"), and he writes to
    the Support OA and shares his phone there: two contacts for one customer."""
    client.force_login(admin)
    assert client.post(ADD_URL, _partner_form("Nguyễn Văn Sơn", "0912 345 678")).status_code == 302
    typed_in = Partner.objects.get()
    for name in ("user_send_text__official", "user_submit_info__current"):
        raw = fixture(name)
        assert post_webhook(client, zalo_app.app_id, raw, key=zalo_app.oa_secret_key).status_code
        drain()
    from_zalo = Partner.objects.exclude(pk=typed_in.pk).get()
    assert from_zalo.phones.get().number == "84912345678"
    result = duplicates_scan()
    # It should suggest the pair on the shared phone, for staff to merge.
    assert result.groups["same_phone"] == 1
    first, second = sorted((typed_in.pk, from_zalo.pk))
    pair = DuplicateSuggestion.objects.get(first_id=first, second_id=second)
    assert {"kind": "same_phone", "value": "84912345678", "verified": True} in pair.reasons


@pytest.mark.django_db(transaction=True)
def test_the_migration_normalizes_phones_already_stored():
    executor = MigrationExecutor(connection)
    before = [("partners", "0004_partner_name_source_link_profile")]
    after = [("partners", "0005_normalize_phones_and_name_sources")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    OldPartner, OldPhone = (
        old.get_model("partners", "Partner"),
        old.get_model("partners", "PartnerPhone"),
    )
    son = OldPartner.objects.create(name="Sơn", name_key="son")
    lan = OldPartner.objects.create(name="Lan", name_key="lan")
    OldPhone.objects.create(partner=son, number="0912 345 678", source="manual")
    OldPhone.objects.create(partner=son, number="84912345678", source="zalo_submit_info")
    OldPhone.objects.create(partner=lan, number="+84 912-345-678", source="manual", verified=True)
    OldPhone.objects.create(partner=lan, number="12345", source="manual")
    shadow = OldPartner.objects.create(name="Zalo user 340317", name_key="340317 user zalo")
    app = old.get_model("accounts", "ZaloApp").objects.create(name="A", app_id="1", secret_key="s")
    oa = old.get_model("accounts", "OfficialAccount").objects.create(app=app, name="OA", oa_id="9")
    old.get_model("partners", "ZaloPartnerLink").objects.create(
        partner=shadow, oa=oa, app=app, zalo_user_id="5830174629118340317", link_method="new_shadow"
    )
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    try:
        # The models as of that migration: later migrations add columns it does not have.
        new = executor.loader.project_state(after).apps
        NewPartner, NewPhone, NewLink = (
            new.get_model("partners", "Partner"),
            new.get_model("partners", "PartnerPhone"),
            new.get_model("partners", "ZaloPartnerLink"),
        )
        # It should let a contact still named by Zalo follow Zalo's name, fetch its profile,
        # and keep every name somebody gave.
        assert NewPartner.objects.get(pk=shadow.pk).name_source == "zalo"
        assert NewPartner.objects.get(pk=son.pk).name_source == "staff"
        assert NewLink.objects.get().profile_due_at is not None
        # It should store every Vietnamese number as 84xxxxxxxxx, once per partner, and
        # leave text that is no phone for staff to see.
        assert sorted(
            NewPhone.objects.filter(partner_id=son.pk).values_list("number", flat=True)
        ) == ["84912345678"]
        assert sorted(
            NewPhone.objects.filter(partner_id=lan.pk).values_list("number", "verified")
        ) == [
            ("12345", False),
            ("84912345678", True),
        ]
    finally:
        # Back to the latest schema: the tests after this one use the current models.
        latest = MigrationExecutor(connection)
        latest.migrate(latest.loader.graph.leaf_nodes())
