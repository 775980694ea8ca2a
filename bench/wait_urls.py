"""Baseline: the bare 200 of ``bare_urls``, after holding its thread as a commit would.

The view reads the body, sleeps (the GIL released, as while a request waits for its
webhook's commit) and answers 200. Against the bare 200 it shows what waiting alone costs
a threaded WSGI server, with no work done: ``bench/ingest_cpu.py``.
"""

import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

WAIT_SECONDS = settings.BENCH_WAIT_SECONDS  # bench/bare_settings.py


@csrf_exempt
def waiting(request: HttpRequest, app_id: str) -> HttpResponse:
    request.body  # noqa: B018  (the body is received either way)
    time.sleep(WAIT_SECONDS)
    return HttpResponse(b'{"ok": true, "duplicate": false}', content_type="application/json")


urlpatterns = [path("zalo/webhook/<str:app_id>/", waiting)]
