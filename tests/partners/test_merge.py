"""Merging partners: everything moves in one transaction, and undo puts it all back."""

import threading

import pytest
from django.db import connection
from django.forms.models import model_to_dict

from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.events.models import Direction, Message
from zalohub.partners.merge import MergeConflict, MergeRefused, partner_merge, partner_merge_undo
from zalohub.partners.models import (
    DuplicateSuggestion,
    IdentityDecision,
    MergeJournal,
    Partner,
    PartnerPhone,
    ZaloPartnerLink,
)
from zalohub.partners.resolution import ZaloUser, resolve_link, suggest_duplicate

pytestmark = pytest.mark.django_db


@pytest.fixture
def oas(db):
    app_a = ZaloApp.objects.create(name="A", app_id="1001", secret_key="s-a")
    app_b = ZaloApp.objects.create(name="B", app_id="1002", secret_key="s-b")
    return (
        OfficialAccount.objects.create(app=app_a, name="Support OA", oa_id="9001"),
        OfficialAccount.objects.create(app=app_b, name="Sales OA", oa_id="9002"),
    )


def _customer(oa: OfficialAccount, user_id: str, name: str, phone: str) -> Partner:
    link = resolve_link(oa=oa, user=ZaloUser(user_id, display_name=name))
    partner = link.partner
    PartnerPhone.objects.create(partner=partner, number=phone, source="manual")
    Message.objects.create(
        oa=oa, direction=Direction.INBOUND, zalo_user_id=user_id, partner_link=link, text="hi"
    )
    return partner


def _state() -> dict[str, list[dict]]:
    """Every row the merge may touch, as plain dicts, for an exact before/after compare."""
    return {
        model.__name__: [model_to_dict(row) for row in model.objects.order_by("pk")]
        for model in (Partner, PartnerPhone, ZaloPartnerLink, Message, DuplicateSuggestion)
    }


def test_a_merge_moves_everything_and_undo_restores_every_row(oas, admin):
    support, sales = oas
    son = _customer(support, "son-s", "Sơn", "84912345678")
    copy = _customer(sales, "son-b", "Son N.", "84912345678")
    PartnerPhone.objects.create(partner=copy, number="84987000111", source="manual")
    suggest_duplicate(son, copy, score=90, reasons=[{"kind": "same_phone", "value": "84912345678"}])
    before = _state()
    journal = partner_merge(survivor=son, merged=copy, actor=admin, take=("name",))
    # It should move the links (and so the conversations) and the new phone to the survivor.
    assert set(son.zalo_links.values_list("zalo_user_id", flat=True)) == {"son-s", "son-b"}
    assert Message.objects.filter(partner_link__partner=son).count() == 2
    assert set(son.phones.values_list("number", flat=True)) == {"84912345678", "84987000111"}
    son.refresh_from_db()
    copy.refresh_from_db()
    assert son.name == "Son N." and copy.merged_into == son and copy.resolved() == son
    # It should leave the colliding phone in place and say so, never delete it.
    assert journal.report["left"][0]["model"] == "partners.partnerphone"
    assert DuplicateSuggestion.objects.get().status == "merged"
    # It should undo exactly: every row as it was.
    partner_merge_undo(journal=journal, actor=admin)
    after = _state()
    for name in before:
        assert after[name] == before[name], name
    journal.refresh_from_db()
    assert journal.undone_at and journal.undone_by == admin


def test_messages_that_arrive_after_a_merge_stay_with_the_survivor(oas, admin):
    support, sales = oas
    son = _customer(support, "son-s", "Sơn", "84912345678")
    copy = _customer(sales, "son-b", "Son", "84912345679")
    journal = partner_merge(survivor=son, merged=copy, actor=admin)
    own = son.zalo_links.get(zalo_user_id="son-s")
    Message.objects.create(oa=support, direction="in", zalo_user_id="son-s", partner_link=own)
    journal = partner_merge_undo(journal=journal, actor=admin)
    # It should keep the new message on the survivor's own link and report it.
    assert journal.undo_report["messages_since_merge_staying_with_survivor"] == 1
    assert Message.objects.filter(partner_link__partner=son).count() == 2


def test_links_on_the_same_oa_are_a_conflict_the_admin_must_confirm(oas, admin):
    support, _ = oas
    a = _customer(support, "u-1", "An", "84912000001")
    b = _customer(support, "u-2", "An", "84912000002")
    # It should refuse and name the OA rather than silently drop a link.
    with pytest.raises(MergeConflict) as refused:
        partner_merge(survivor=a, merged=b, actor=admin)
    assert refused.value.conflicts[0]["oa"] == "Support OA"
    assert not MergeJournal.objects.exists()
    # It should keep both links when the admin confirms, and flag them in the audit.
    journal = partner_merge(survivor=a, merged=b, actor=admin, keep_conflicting_links=True)
    assert a.zalo_links.count() == 2
    assert journal.report["audit"][0]["kind"] == "two_ids_on_one_oa"


def test_it_refuses_to_merge_a_partner_into_itself_or_twice(oas, admin):
    support, sales = oas
    a = _customer(support, "u-1", "An", "84912000001")
    b = _customer(sales, "u-2", "Bình", "84912000002")
    with pytest.raises(MergeRefused):
        partner_merge(survivor=a, merged=a, actor=admin)
    journal = partner_merge(survivor=a, merged=b, actor=admin)
    with pytest.raises(MergeRefused):
        partner_merge(survivor=a, merged=b, actor=admin)
    partner_merge_undo(journal=journal, actor=admin)
    with pytest.raises(MergeRefused):
        partner_merge_undo(journal=journal, actor=admin)
    assert IdentityDecision.objects.filter(kind="joined", evidence__merge=journal.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_two_admins_merging_the_same_pair_at_once_merge_once(oas, admin):
    support, sales = oas
    a = _customer(support, "u-1", "An", "84912000001")
    b = _customer(sales, "u-2", "An", "84912000002")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def work() -> None:
        try:
            barrier.wait()
            partner_merge(survivor=a, merged=b, actor=admin)
            outcomes.append("merged")
        except MergeRefused:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # It should merge once and refuse the other, with one journal entry.
    assert sorted(outcomes) == ["merged", "refused"]
    assert MergeJournal.objects.count() == 1


def test_an_admin_merges_from_the_duplicate_queue_and_undoes_it(client, oas, admin, agent):
    support, sales = oas
    a = _customer(support, "u-1", "An", "84912000001")
    b = _customer(sales, "u-2", "An", "84912000001")
    suggest_duplicate(a, b, score=90, reasons=[{"kind": "same_phone", "value": "84912000001"}])
    suggestion = DuplicateSuggestion.objects.get()
    url = f"/admin/partners/duplicatesuggestion/{suggestion.pk}/merge/"
    # It should refuse a CS agent the merge.
    client.force_login(agent)
    assert client.get(url).status_code == 403
    client.force_login(admin)
    response = client.post(url, {"survivor": str(a.pk), "take": ["name"]})
    assert response.status_code == 302, response.content
    journal = MergeJournal.objects.get()
    assert journal.survivor == a and journal.merged == b
    # It should show the journal with its Undo button, and undo from it.
    page = client.get(f"/admin/partners/mergejournal/{journal.pk}/change/")
    assert b'id="btn-undo-merge"' in page.content
    client.post(f"/admin/partners/mergejournal/{journal.pk}/undo/")
    journal.refresh_from_db()
    assert journal.undone_at is not None
    assert Partner.objects.get(pk=b.pk).merged_into is None
