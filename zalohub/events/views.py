import json

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from zalohub.events.ingest import ingest_webhook


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
    headers = {k.lower(): v for k, v in request.headers.items()}
    # Zalo's retry header is "num_retry"; WSGI servers hand it over as "Num-Retry".
    if "num-retry" in headers:
        headers["num_retry"] = headers.pop("num-retry")
    result = ingest_webhook(
        app_id=app_id,
        raw=request.body,
        headers=headers,
        remote_addr=request.META.get("REMOTE_ADDR", ""),
    )
    if result.status == 200:
        body = {"ok": True, "duplicate": result.duplicate}
    else:
        body = {"ok": False, "error": result.reason}
    return HttpResponse(json.dumps(body), status=result.status, content_type="application/json")
