"""Baseline: the webhook path answered 200 by a Django view that only reads the body.

Served by the same server stack (uvicorn, same worker count, same middleware) as the hub,
so the ratio measures what ingesting costs: signature check, lookups, the durable INSERT.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def bare(request: HttpRequest, app_id: str) -> HttpResponse:
    request.body  # noqa: B018  (the body is received either way)
    return HttpResponse(b'{"ok": true, "duplicate": false}', content_type="application/json")


urlpatterns = [path("zalo/webhook/<str:app_id>/", bare)]
