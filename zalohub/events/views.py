import json

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from zalohub.events.ingest import KEPT_HEADERS, ingest_webhook

# Where each header that ingest reads or keeps is in the WSGI/ASGI environ. Zalo's retry
# header is "num_retry"; servers hand it over as HTTP_NUM_RETRY (like "Num-Retry").
_META_KEYS = tuple(
    (name, "CONTENT_TYPE" if name == "content-type" else "HTTP_" + name.upper().replace("-", "_"))
    for name in KEPT_HEADERS
)
_ACCEPTED = b'{"ok": true, "duplicate": false}'
_DUPLICATE = b'{"ok": true, "duplicate": true}'


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
    result = ingest_webhook(
        app_id=app_id,
        raw=request.body,
        headers=headers,
        remote_addr=meta.get("REMOTE_ADDR", ""),
    )
    if result.status == 200:
        body = _DUPLICATE if result.duplicate else _ACCEPTED
    else:
        body = json.dumps({"ok": False, "error": result.reason}).encode()
    return HttpResponse(body, status=result.status, content_type="application/json")
