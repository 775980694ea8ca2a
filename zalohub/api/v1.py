"""The API object of ``/api/v1/``: authentication, problems, the routers, the schema."""

from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError
from ninja.openapi.docs import Swagger

from zalohub.api import conversations, oas, partners, problems, sends, webhooks
from zalohub.api.access import KeyAuth, count_refused
from zalohub.api.schemas import HealthOut
from zalohub.webhooks.schemas import openapi_webhooks

DESCRIPTION = """\
The hub's API for other systems (ERP, CRM, shop): send Zalo messages and ZNS templates,
read conversations, find and update partners.

* **Keys**: `Authorization: Bearer zh_…`. A Zalo Admin creates a key in the admin
  (*Integration API > API keys*); it is shown once. A key reaches only its OAs (any other
  OA answers 404) and does only what its capabilities allow (else 403).
* **Errors** are `application/problem+json` with a stable `code`.
* **Lists** are paged by cursor: pass `next_cursor` back as `cursor`.
* **POST** takes an `Idempotency-Key`: a repeat with the same body gets the first
  answer again, another body 409.
* **Rate limit** per key and minute: past it, 429 with `Retry-After`.
* Sends answer 202 once the send is queued (committed); read the event to follow it.
"""


class HubAPI(NinjaAPI):
    def on_exception(self, request: HttpRequest, exc: Any) -> HttpResponse:
        # ninja refuses a body (422, or 400 when it is no JSON) after authentication and
        # before the operation: such a request still counts against its key's limit.
        if isinstance(exc, ValidationError) or (
            isinstance(exc, HttpError) and exc.status_code == 400
        ):
            try:
                count_refused(request)
            except Exception as refused:  # 401 or 429 instead
                exc = refused
        return super().on_exception(request, exc)

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        # Errors are problem+json (ninja declares every answer application/json).
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for status, answer in operation.get("responses", {}).items():
                    content = answer.get("content", {})
                    if str(status)[0] in "45" and "application/json" in content:
                        content[problems.CONTENT_TYPE] = content.pop("application/json")
        # What subscribers receive (the webhooks app's payloads), with examples.
        schema["webhooks"] = openapi_webhooks()
        _hoist_defs(schema["webhooks"], schema.setdefault("components", {}))
        return schema


def _hoist_defs(node: Any, components: dict[str, Any]) -> None:
    """Nested models' ``$defs`` into components.schemas, where their refs point."""
    if isinstance(node, dict):
        for name, definition in node.pop("$defs", {}).items():
            components.setdefault("schemas", {}).setdefault(name, definition)
        for value in node.values():
            _hoist_defs(value, components)
    elif isinstance(node, list):
        for value in node:
            _hoist_defs(value, components)


api = HubAPI(
    title="zalohub API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    auth=KeyAuth(),
    docs=Swagger(settings={"persistAuthorization": True, "validatorUrl": None}),
)
problems.install(api)
api.add_router("", sends.router)
api.add_router("", conversations.router)
api.add_router("", partners.router)
api.add_router("", oas.router)
api.add_router("", webhooks.router)


@api.get("/health", auth=None, response={200: HealthOut, 503: problems.Problem}, tags=["health"])
def health(request: HttpRequest) -> Any:
    """For monitors: 200 while the hub answers and its database does."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure of the database is the answer
        raise problems.ApiProblem(503, "unavailable", str(exc)) from None
    return HealthOut(status="ok", database="ok")
