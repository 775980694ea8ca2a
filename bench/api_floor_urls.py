"""The hub's URLs plus the API send benchmark's two references:

- ``/bench/floor/accept``, the baseline: a django-ninja endpoint that parses the same
  JSON body (the same schema) and answers 202 with no work (no key, no database);
- ``/bench/floor/one_row`` (``bench/api_send.py --ceiling``), a design's ceiling: a
  send accepted as ingest accepts a webhook. The key is found and checked as the API's
  send checks it (``KeyAuth(cached=True)``, its capability and OA scope in memory), and
  the request is stored as one event row through ingest's group commit (on PostgreSQL
  one prepared INSERT a batch), answered 202 with its id. No message, conversation,
  rate-limit count or Idempotency-Key answer is written: a worker would make those from
  the row. It is not the hub's send (nothing here makes a worker send it); it measures
  what such a send could reach, beside the baseline and the real one.
"""

import json
import uuid
from typing import Any

from django.http import HttpRequest
from django.urls import path
from django.utils import timezone
from ninja import NinjaAPI

from zalohub.accounts.models import OfficialAccount
from zalohub.api.access import KeyAuth
from zalohub.api.keys import key_oa_ids
from zalohub.api.models import Capability
from zalohub.api.schemas import MessageSendIn
from zalohub.events.ingestion.store import EventRow, store
from zalohub.urls import urlpatterns as hub_urlpatterns

floor = NinjaAPI(urls_namespace="bench-floor", docs_url=None, openapi_url=None)


@floor.post("/accept", response={202: dict})
def accept(request: HttpRequest, body: MessageSendIn) -> tuple[int, dict[str, Any]]:
    return 202, {"accepted": True}


_oas: dict[int, tuple[int, str]] = {}  # OA pk -> (app pk, OA's Zalo id), read once


@floor.post("/one_row", response={202: dict, 404: dict}, auth=KeyAuth(cached=True))
def one_row(request: HttpRequest, body: MessageSendIn) -> tuple[int, dict[str, Any]]:
    key = request.auth
    if Capability.SEND_MESSAGES not in key.capabilities or body.oa not in key_oa_ids(key):
        return 404, {"code": "not_found"}
    if body.oa not in _oas:
        oa = OfficialAccount.objects.only("app_id", "oa_id").get(pk=body.oa)
        _oas[body.oa] = (oa.app_id, oa.oa_id)
    app_id, oa_zalo_id = _oas[body.oa]
    user = body.to.user_id or ""
    name = request.headers.get("Idempotency-Key") or uuid.uuid4().hex
    row = EventRow(
        app_id=app_id,
        oa_id=body.oa,
        event_name="oa_send_text",
        dedupe_key=f"api:{key.pk}:{name}",
        raw_body=json.dumps({"recipient": {"user_id": user}, "message": {"text": body.text}}),
        headers={},
        signature_variant="",
        num_retry=0,
        event_time=None,
        zalo_user_id=user,
        conversation_key=f"{oa_zalo_id}:{user}",
        received_at=timezone.now(),
    )
    return 202, {"event_id": store(row)}


urlpatterns = [path("bench/floor/", floor.urls), *hub_urlpatterns]
