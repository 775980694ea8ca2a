"""The hub's URLs plus the API send benchmark's baseline: a django-ninja endpoint that
parses the same JSON body (the same schema) and answers 202 with no work (no key, no database)."""

from typing import Any

from django.http import HttpRequest
from django.urls import path
from ninja import NinjaAPI

from zalohub.api.schemas import MessageSendIn
from zalohub.urls import urlpatterns as hub_urlpatterns

floor = NinjaAPI(urls_namespace="bench-floor", docs_url=None, openapi_url=None)


@floor.post("/accept", response={202: dict})
def accept(request: HttpRequest, body: MessageSendIn) -> tuple[int, dict[str, Any]]:
    return 202, {"accepted": True}


urlpatterns = [path("bench/floor/", floor.urls), *hub_urlpatterns]
