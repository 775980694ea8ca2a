"""The merge journal, the duplicate queue and identity evidence as tables a person reads,
and an undo that asks first and says what it restores (issue 14 §8, §9)."""

import pytest
from django.test import Client

from tests.partners.test_merge import _customer, oas  # noqa: F401 (fixture)
from zalohub.partners.merge import partner_merge
from zalohub.partners.models import DuplicateSuggestion, Partner
from zalohub.partners.resolution import suggest_duplicate

pytestmark = pytest.mark.django_db


@pytest.fixture
def merged(oas, admin):  # noqa: F811
    support, sales = oas
    kept = _customer(support, "u-1", "An", "84912000001")
    other = _customer(sales, "u-2", "Nguyễn Văn An", "84912000002")
    Partner.objects.filter(pk=other.pk).update(email="an@example.vn", external_refs={"erp": "C-7"})
    other.refresh_from_db()
    suggest_duplicate(kept, other, score=80, reasons=[{"kind": "similar_name", "value": "an"}])
    return partner_merge(survivor=kept, merged=other, actor=admin, take=("name", "email"))


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_journal_shows_fields_before_and_after_not_json(admin, merged):
    page = _client(admin).get(f"/admin/partners/mergejournal/{merged.pk}/change/").content.decode()
    # It should show each field: the kept partner before, the merged one, and after.
    assert 'class="zh-readable zh-merge-fields"' in page
    assert "<td>Name</td><td>An</td><td>Nguyễn Văn An</td><td>Nguyễn Văn An</td>" in page
    assert "<td>External references</td><td>—</td><td>erp: C-7</td><td>erp: C-7</td>" in page
    assert "<td>Shadow contact</td><td>Shadow</td><td>Shadow</td><td>Shadow</td>" in page
    # ...and which rows moved, by name, with links.
    assert "Zalo partner link" in page and "/admin/partners/zalopartnerlink/" in page
    # It should not show the raw JSON, nor offer to save a journal.
    assert "survivor_before" not in page and '"pks"' not in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page


def test_undo_asks_first_and_says_what_it_restores(admin, merged):
    client = _client(admin)
    change = client.get(f"/admin/partners/mergejournal/{merged.pk}/change/").content.decode()
    url = f"/admin/partners/mergejournal/{merged.pk}/undo/"
    # It should lead to a confirmation page, not post the undo at once.
    assert f'<a id="btn-undo-merge" class="historylink" href="{url}">' in change
    page = client.get(url).content.decode()
    merged.refresh_from_db()
    assert merged.undone_at is None
    # It should say what it restores: the fields, the partner and its rows.
    assert "<td>Name</td><td>Nguyễn Văn An</td><td>An</td>" in page
    assert "“Nguyễn Văn An” comes back with" in page
    assert "1 Zalo link goes back" in page
    assert "1 duplicate suggestion returns to the status it had." in page
    assert 'id="btn-confirm-undo"' in page and 'class="button cancel-link"' in page
    answer = client.post(url)
    assert answer.status_code == 302
    merged.refresh_from_db()
    assert merged.undone_at is not None
    # After the undo, the journal reports it as a table too.
    page = client.get(f"/admin/partners/mergejournal/{merged.pk}/change/").content.decode()
    assert "Messages since the merge that stay with the kept partner" in page
    assert "messages_since_merge" not in page


def test_duplicate_reasons_read_as_words(admin, oas):  # noqa: F811
    support, sales = oas
    a = _customer(support, "u-1", "An", "84912000001")
    b = _customer(sales, "u-2", "An", "84912000001")
    suggest_duplicate(
        a,
        b,
        score=90,
        reasons=[{"kind": "same_phone", "value": "84912000001", "source": "user_submit_info"}],
    )
    suggestion = DuplicateSuggestion.objects.get()
    client = _client(admin)
    listing = client.get("/admin/partners/duplicatesuggestion/").content.decode()
    assert "Same phone: 84912000001" in listing
    page = client.get(
        f"/admin/partners/duplicatesuggestion/{suggestion.pk}/change/"
    ).content.decode()
    # It should show evidence, value and source event, and no Save on the record.
    assert (
        "<td>Same phone</td><td>84912000001</td>"
        "<td>The customer shared their details on Zalo (user_submit_info)</td>"
    ) in page
    assert "same_phone" not in page
    assert 'name="_save"' not in page
    merge = client.get(
        f"/admin/partners/duplicatesuggestion/{suggestion.pk}/merge/"
    ).content.decode()
    assert "<td>Same phone</td>" in merge and '<ol class="breadcrumbs">' in merge


def test_identity_evidence_and_follow_state_read_as_words(admin, oas):  # noqa: F811
    support, _sales = oas
    partner = _customer(support, "u-1", "An", "84912000001")
    link = partner.zalo_links.get()
    client = _client(admin)
    page = client.get(f"/admin/partners/zalopartnerlink/{link.pk}/change/").content.decode()
    # It should show the evidence as labelled rows, not a dict.
    assert "<td>Zalo user ID</td><td>u-1</td>" in page
    assert "<td>Official account</td><td>Support OA</td>" in page
    assert "{&#x27;zalo_user_id&#x27;" not in page and '{"zalo_user_id"' not in page
    partner_page = client.get(f"/admin/partners/partner/{partner.pk}/change/").content.decode()
    assert "<td>Zalo user ID</td><td>u-1</td>" in partner_page
    verify = client.get(f"/admin/partners/zalopartnerlink/{link.pk}/verify/").content.decode()
    assert "<td>Zalo user ID</td><td>u-1</td>" in verify
    # It should say what the boolean columns mean, never a ✓/✗ icon.
    listing = client.get("/admin/partners/zalopartnerlink/").content.decode()
    assert "Not known yet" in listing and "Shadow" in listing
    assert "icon-no.svg" not in listing and "icon-unknown.svg" not in listing
    link.is_follower = False
    link.save()
    listing = client.get("/admin/partners/zalopartnerlink/").content.decode()
    assert "Unfollowed" in listing and "icon-no.svg" not in listing
    assert "icon-no.svg" not in partner_page and "icon-yes.svg" not in partner_page
