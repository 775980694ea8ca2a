"""A ZNS send Zalo refuses with -100 (API.md §4.5: "Unknown error" on the business host)
is retried and, if it keeps failing, fails with the business host's explanation, never
the OA host's ("attachment_id was expired")."""

import pytest
from django.utils import timezone, translation

from tests.zbs.conftest import VALUES
from zalohub.apilog.models import ApiLog
from zalohub.core.stored_text import shown_reason
from zalohub.events.models import ErrorCategory, ProcessingState, ZaloEvent, ZaloState
from zalohub.zbs.delivery import deliver_template
from zalohub.zbs.sending import template_send

pytestmark = pytest.mark.django_db
ROUTE = "zns.message.template"
UNKNOWN = "Zalo error -100: Zalo's template host reported an unknown error"


def test_a_zns_send_refused_with_minus_100_is_an_unknown_error(approved, son, sandbox, settings):
    settings.EVENTS_MAX_ATTEMPTS = 2
    sandbox.add_fault(ROUTE, "zalo_error", code=-100, times=2)
    send = template_send(partner=son, template=approved, params=VALUES, route_policy="phone")
    event = ZaloEvent.objects.get(message=send.message)
    # It should retry (an unknown error may pass; the tracking id keeps it single)...
    assert deliver_template(event_id=event.pk, worker_id="test") == "retry"
    event.refresh_from_db()
    assert event.processing_state == ProcessingState.QUEUED
    assert shown_reason(event, "error_message").startswith(UNKNOWN)
    # ...as the sandbox answered it, in the business host's words.
    logged = ApiLog.objects.filter(endpoint=ROUTE, error_code=-100).first()
    assert logged is not None and '"Unknown error"' in logged.response_body
    ZaloEvent.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now())  # backoff over
    # It should fail once its attempts are spent, explained as the business host's -100.
    assert deliver_template(event_id=event.pk, worker_id="test") == "failed"
    message = send.message
    message.refresh_from_db()
    event.refresh_from_db()
    assert (message.zalo_state, message.failure_code) == (ZaloState.FAILED, -100)
    assert event.error_category == ErrorCategory.SEND
    shown = shown_reason(message, "failure_reason")
    assert shown.startswith(UNKNOWN) and "expired" not in shown
    with translation.override("vi"):
        assert "lỗi không xác định" in shown_reason(message, "failure_reason")
    assert sandbox.call_count(ROUTE) == 2
