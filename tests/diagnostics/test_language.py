"""Stored findings are shown in the reader's language, not in that of whoever pressed
Recompute (issue 14 item 5): snapshots, incidents (banner) and the escalation summary."""

import pytest
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext

from zalohub.accounts.models import OfficialAccount
from zalohub.diagnostics.categories import NEXT_STEPS
from zalohub.diagnostics.models import HealthSnapshot, Incident
from zalohub.events.models import ErrorCategory

pytestmark = pytest.mark.django_db
URL = "/admin/diagnostics/healthsnapshot/"
SUMMARY = "The account is %(status)s: %(reason)s"
TITLE = "Token / authorization"
REASON = "Zalo rejected the refresh token."


@pytest.fixture
def expired(connected_oa):
    OfficialAccount.objects.filter(pk=connected_oa.pk).update(
        status=OfficialAccount.Status.EXPIRED, last_error=REASON
    )
    return connected_oa


def _in(language: str, msgid: str, **params: str) -> str:
    with translation.override(language):
        text = gettext(msgid)
        status = gettext("Expired")
    return text % {"status": status, **params} if params else text


@pytest.mark.parametrize(("writer", "reader"), [("en", "vi"), ("vi", "en")])
def test_it_shows_stored_findings_in_the_readers_language(
    client, admin, expired, writer, reader, django_capture_on_commit_callbacks
):
    client.force_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(f"{URL}refresh/", {"oa": expired.pk}, HTTP_ACCEPT_LANGUAGE=writer)
    assert answer.status_code == 302
    assert Incident.objects.filter(oa=expired, check_key="token", resolved_at=None).exists()
    wanted = _in(reader, SUMMARY, reason=REASON)
    unwanted = _in(writer, SUMMARY, reason=REASON)
    assert wanted != unwanted  # the catalogue has the text in both languages
    # It should render the health page's stored check in the reader's language...
    page = client.get(f"{URL}?oa={expired.pk}", HTTP_ACCEPT_LANGUAGE=reader).content.decode()
    assert wanted in page and unwanted not in page
    assert _in(reader, TITLE) in page
    with translation.override(reader):
        step = escape(str(NEXT_STEPS[ErrorCategory.TOKEN]))
    with translation.override(writer):
        assert escape(str(NEXT_STEPS[ErrorCategory.TOKEN])) not in page
    assert step in page
    # ... the banner's incident too ...
    banner = client.get("/admin/", HTTP_ACCEPT_LANGUAGE=reader).content.decode()
    assert 'id="health-banner"' in banner
    assert wanted in banner and unwanted not in banner
    # ... and the escalation summary.
    text = client.get(
        f"{URL}escalation/oa/{expired.pk}/", HTTP_ACCEPT_LANGUAGE=reader
    ).content.decode()
    assert _in(reader, "Pre-escalation checklist:") in text
    assert wanted in text and unwanted not in text


def test_it_still_shows_snapshots_stored_as_text_before(client, admin, connected_oa):
    # A snapshot written before texts were stored as msgids: plain strings.
    HealthSnapshot.objects.create(
        oa=connected_oa,
        level="amber",
        computed_at=timezone.now(),
        checks=[
            {
                "key": "webhook",
                "title": "Webhook receiving",
                "level": "amber",
                "summary": "Văn bản cũ đã lưu.",
                "category": "webhook",
                "next_step": "Bước cũ.",
                "facts": [["Webhook URL", "http://x"]],
                "evidence": [{"label": "Received events", "url": "/admin/", "count": 2}],
                "available": True,
            }
        ],
    )
    Incident.objects.create(
        oa=connected_oa,
        check_key="webhook",
        summary="Sự cố cũ.",
        opened_at=timezone.now(),
    )
    client.force_login(admin)
    page = client.get(f"{URL}?oa={connected_oa.pk}", HTTP_ACCEPT_LANGUAGE="en")
    # It should show the old rows as they were written.
    assert page.status_code == 200
    body = page.content.decode()
    assert "Văn bản cũ đã lưu." in body and "Bước cũ." in body
    assert "Sự cố cũ." in body
