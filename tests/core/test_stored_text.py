"""Failure reasons are stored as a msgid and parameters (issue 14 §5): whoever wrote one,
in whatever language, each reader reads it in theirs; rows from before keep their text."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

from zalohub.apilog.models import ApiLog
from zalohub.core.stored_text import Reason, reason, reason_fields, shown_reason, text
from zalohub.events.models import Message, ProcessingState, ZaloEvent, ZaloState
from zalohub.events.outbound.oa_message import message_send, send_outbound
from zalohub.inbox.present import status_tooltip
from zalohub.sandbox.world import SON_SUPPORT_USER_ID
from zalohub.zalo.errors import explain

MARKED = gettext_noop("Marked as error by %(who)s: %(reason)s")
GONE = gettext_noop("Not sent again: the message is already %s.")


def _in(language: str, msgid: str, params: object = None) -> str:
    with translation.override(language):
        return gettext(msgid) % params if params is not None else gettext(msgid)


def test_a_reason_round_trips_and_renders_its_labels_in_each_language():
    sent = reason(GONE, ZaloState.SENT.label)
    # It should keep the msgid and a label as a Reason, not as the writer's text.
    assert Reason.from_json(sent.as_json()) == sent
    assert sent.as_json() == {"t": GONE, "a": [{"t": "Sent"}]}
    # It should render the label in the reader's language, and English for the column.
    assert sent.english() == "Not sent again: the message is already Sent."
    with translation.override("vi"):
        vi = sent.render()
    assert vi == _in("vi", GONE) % _in("vi", "Sent") and vi != sent.english()
    # It should keep data (a person's words) as they were written.
    marked = reason(MARKED, who="auditor", reason=text("kẹt từ thứ Hai"))
    with translation.override("vi"):
        assert marked.render() == _in("vi", MARKED, {"who": "auditor", "reason": "kẹt từ thứ Hai"})


def test_a_zalo_code_is_explained_in_the_readers_language_with_zalos_words_kept():
    refused = Reason(
        "Zalo error %(code)s: %(message)s", {"code": -230, "message": "User not interacted"}, -230
    )
    with translation.override("vi"):
        vi, explained = refused.render(), explain(-230)
    assert explained and explained in vi and "-230" in vi
    assert explain(-230) in refused.english()
    # The text column keeps Zalo's own words too (the admin searches them).
    fields = reason_fields("error_message", refused)
    assert "User not interacted" in fields["error_message"]
    assert fields["error_message_i18n"] == {
        "t": "Zalo error %(code)s: %(message)s",
        "a": {"code": -230, "message": "User not interacted"},
        "c": -230,
    }


def _vi_client(user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="vi")
    client.force_login(user)
    return client


def _en_client(user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def _event_url(event: ZaloEvent, action: str = "") -> str:
    if action:
        return reverse("admin:events_zaloevent_button", args=[event.pk, action])
    return reverse("admin:events_zaloevent_change", args=[event.pk])


def test_an_event_error_written_in_vietnamese_reads_in_english_and_back(
    sandbox, connected_oa, auditor
):
    message = message_send(oa=connected_oa, user_id=SON_SUPPORT_USER_ID, text="Báo giá")
    event = message.events.get()
    assert send_outbound(event_id=event.pk, worker_id="t") == "sent"  # Zalo never confirms
    # A Vietnamese auditor marks the unconfirmed send as an error, in a Vietnamese request.
    response = _vi_client(auditor).post(
        _event_url(event, "mark_error"), {"reason": "kẹt từ thứ Hai"}
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.processing_state == ProcessingState.ERROR
    params = {"who": "auditor", "reason": "kẹt từ thứ Hai"}
    english, vietnamese = _in("en", MARKED, params), _in("vi", MARKED, params)
    assert english != vietnamese
    # It should store English in the text column and the msgid for every reader.
    assert event.error_message == english
    # It should show an English reader English, a Vietnamese reader Vietnamese.
    en_page = _en_client(auditor).get(_event_url(event)).content.decode()
    vi_page = _vi_client(auditor).get(_event_url(event)).content.decode()
    assert english in en_page and vietnamese not in en_page
    assert vietnamese in vi_page and english not in vi_page
    # The message it failed reads the same way in the inbox's status.
    message.refresh_from_db()
    assert message.zalo_state == ZaloState.FAILED
    with translation.override("en"):
        assert status_tooltip(message) == english
    with translation.override("vi"):
        assert status_tooltip(message) == vietnamese


def test_a_message_failed_by_zalo_reads_in_the_readers_language(sandbox, connected_oa):
    sandbox.add_fault("oa.message.cs", "zalo_error", code=-230, times=1)
    message = message_send(oa=connected_oa, user_id=SON_SUPPORT_USER_ID, text="Báo giá")
    with translation.override("vi"):  # the worker's language does not matter
        assert send_outbound(event_id=message.events.get().pk, worker_id="t") == "failed"
    message.refresh_from_db()
    assert message.failure_code == -230 and message.failure_reason_i18n["c"] == -230
    with translation.override("vi"):
        vi = status_tooltip(message)
        assert explain(-230) in vi
    with translation.override("en"):
        en = status_tooltip(message)
        assert explain(-230) in en
    assert vi != en


def test_an_api_log_with_a_zalo_code_reads_in_the_readers_language(sandbox, connected_oa, admin):
    sandbox.add_fault("oa.message.cs", "zalo_error", code=-230, times=1)
    message = message_send(oa=connected_oa, user_id=SON_SUPPORT_USER_ID, text="Báo giá")
    send_outbound(event_id=message.events.get().pk, worker_id="t")
    log = ApiLog.objects.filter(error_code=-230).get()
    url = reverse("admin:apilog_apilog_change", args=[log.pk])
    with translation.override("vi"):
        vi = explain(-230)
    with translation.override("en"):
        en = explain(-230)
    assert vi != en
    assert vi in _vi_client(admin).get(url).content.decode()
    assert en in _en_client(admin).get(url).content.decode()


def test_a_row_from_before_shows_its_text_as_stored(sandbox, connected_oa, admin):
    message = message_send(oa=connected_oa, user_id=SON_SUPPORT_USER_ID, text="Báo giá")
    Message.objects.filter(pk=message.pk).update(
        zalo_state=ZaloState.FAILED, failure_reason="stuck since Monday", failure_reason_i18n=None
    )
    message.refresh_from_db()
    with translation.override("vi"):
        assert shown_reason(message, "failure_reason") == "stuck since Monday"
        assert status_tooltip(message) == "stuck since Monday"


def test_zalo_out_of_reach_reads_in_the_readers_language(db):
    import socket

    from zalohub.core.stored_text import zalo_reason
    from zalohub.zalo import ZaloError
    from zalohub.zalo.transport import ZaloTransport

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = ZaloTransport(timeout=2.0, connect_timeout=1.0)
    with translation.override("vi"), pytest.raises(ZaloError) as failed:
        transport.request("GET", f"http://127.0.0.1:{port}/oa", endpoint="oa.getoa")
    transport.close()
    why = zalo_reason(failed.value)
    # It should keep the hub's own words as a msgid, not as the text of the moment.
    assert why.msgid == "Could not reach Zalo: %(error)s"
    detail = why.params["error"]
    with translation.override("vi"):
        vi = why.render()
    assert vi == _in("vi", why.msgid, {"error": detail})
    assert why.english() == f"Could not reach Zalo: {detail}" != vi
