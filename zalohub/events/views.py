import json

from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from zalohub.core import metrics
from zalohub.events.ingestion.receive import KEPT_HEADERS, ingest_webhook

# Where each header that ingest reads or keeps is in the WSGI/ASGI environ. Zalo's retry
# header is "num_retry"; servers hand it over as HTTP_NUM_RETRY (like "Num-Retry").
_META_KEYS = tuple(
    (name, "CONTENT_TYPE" if name == "content-type" else "HTTP_" + name.upper().replace("-", "_"))
    for name in KEPT_HEADERS
)
_ACCEPTED = b'{"ok": true, "duplicate": false}'
_DUPLICATE = b'{"ok": true, "duplicate": true}'


def _read_body(request: HttpRequest) -> tuple[bytes, int]:
    """The body and its size; only its start when it is over the limit (the rejected
    request keeps no more), with the size it declared or was seen to pass.

    Not ``request.body``: over DATA_UPLOAD_MAX_MEMORY_SIZE it raises, and Django answers
    an HTML 400 that nobody records; without a Content-Length, Django's WSGI request
    reads nothing, but a chunked body is there to be read (uvicorn's and gunicorn's
    WSGI hand it over de-chunked, ending where it ends)."""
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    meta = request.META
    declared = meta.get("CONTENT_LENGTH")
    if declared:
        try:
            size = int(declared)
        except ValueError:
            size = 0  # as Django reads it: no body
        if size > limit:
            return request.read(settings.WEBHOOK_REJECTED_BODY_BYTES), size
        raw = request.read(limit + 1)  # never more, whatever the header said
        return raw, max(size, len(raw))
    stream = request
    if isinstance(request, WSGIRequest) and (
        "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
        or meta.get("wsgi.input_terminated")
    ):
        stream = meta["wsgi.input"]
    raw = stream.read(limit + 1)
    return raw, len(raw)  # over the limit by at least one byte: said so, not read further


@csrf_exempt
def webhook(request: HttpRequest, app_id: str) -> HttpResponse:
    if request.method == "GET":
        # Lets an admin check from a browser that the URL reaches this hub.
        return HttpResponse(
            f"zalohub webhook endpoint for Zalo app {app_id}: POST events here.",
            content_type="text/plain",
        )
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    meta = request.META
    headers = {name: meta[key] for name, key in _META_KEYS if key in meta}
    raw, size = _read_body(request)
    result = ingest_webhook(
        app_id=app_id,
        raw=raw,
        headers=headers,
        remote_addr=meta.get("REMOTE_ADDR", ""),
        body_size=size,
    )
    if result.status == 200:
        if result.duplicate:
            body = _DUPLICATE
            metrics.WEBHOOK_DUPLICATE.inc()
        else:
            body = _ACCEPTED
            metrics.WEBHOOK_ACCEPTED.inc()
    else:
        body = json.dumps({"ok": False, "error": result.reason}).encode()
        metrics.webhook_rejected(result.status)
    return HttpResponse(body, status=result.status, content_type="application/json")
