"""Writing API log rows for every Zalo call, and keeping them for a bounded time."""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from zalohub.apilog.models import ApiLog
from zalohub.apilog.redact import redact_body, redact_headers, redact_url
from zalohub.core import periodic
from zalohub.core.metrics import ZALO_CALLS
from zalohub.core.stored_text import zalo_reason
from zalohub.zalo.transport import Call

logger = logging.getLogger(__name__)


def _truncate(text: str) -> str:
    limit = settings.APILOG_MAX_BODY_CHARS
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… [{len(text) - limit} more characters not kept]"


def record_call(call: Call) -> ApiLog:
    context = call.context
    error = call.error
    return ApiLog.objects.create(
        created_at=timezone.now() - timedelta(milliseconds=call.duration_ms),
        method=call.method,
        endpoint=call.endpoint,
        url=redact_url(call.url)[:2000],
        http_status=call.http_status,
        ok=error is None,
        error_code=error.code if error else None,
        error_kind=error.kind.value if error else "",
        # Zalo's own text, as it came (searched in the admin); shown from its Reason.
        error_message=str(error.message) if error else "",
        error_message_i18n=zalo_reason(error).as_json() if error else None,
        duration_ms=round(call.duration_ms, 2),
        request_headers=redact_headers(call.request_headers),
        request_body=_truncate(redact_body(call.request_body)),
        response_body=_truncate(redact_body(call.response_body)),
        oa_id=context.get("oa"),
        app_id=context.get("app"),
        ref_type=str(context.get("ref_type") or ""),
        ref_id=str(context.get("ref_id") or ""),
    )


def observe_call(call: Call) -> None:
    """Count the call and its duration (a recorder of its own: a call is counted even when
    its log row cannot be written)."""
    status = str(call.http_status) if call.http_status is not None else "none"
    result = call.error.kind.value if call.error else "ok"
    ZALO_CALLS.labels(call.endpoint, status, result).observe(call.duration_ms / 1000)


@periodic.register("apilog.retention", every_seconds=3600)
def delete_expired_logs() -> int:
    cutoff = timezone.now() - timedelta(days=settings.APILOG_RETENTION_DAYS)
    deleted = 0
    # In slices, so a large backlog never holds a long lock on the table.
    while True:
        ids = list(ApiLog.objects.filter(created_at__lt=cutoff).values_list("id", flat=True)[:5000])
        if not ids:
            break
        deleted += ApiLog.objects.filter(id__in=ids).delete()[0]
    if deleted:
        logger.info("Deleted %d API log rows older than %s", deleted, cutoff)
    return deleted
