"""Errors as ``application/problem+json`` (RFC 9457), each with a stable ``code``.

``code`` is the contract: clients branch on it; ``title`` and ``detail`` are for people
and follow the request's language.
"""

import json
import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/problem+json"


class Problem(Schema):
    type: str
    title: str
    status: int
    code: str
    detail: str = ""
    errors: list[dict[str, Any]] | None = None
    event_id: int | None = None


class ApiProblem(Exception):
    """Raised by a view: answered as a problem with this status and code."""

    def __init__(
        self, status: int, code: str, detail: str = "", *, title: str = "", **extra: Any
    ) -> None:
        super().__init__(detail or code)
        self.status = status
        self.code = code
        self.detail = str(detail)
        self.title = title
        self.extra = extra
        self.headers: dict[str, str] = {}


def _titles() -> dict[int, str]:
    return {
        400: _("Bad request"),
        401: _("Not authenticated"),
        403: _("Not allowed"),
        404: _("Not found"),
        409: _("Conflict"),
        422: _("Cannot be done as asked"),
        429: _("Too many requests"),
        500: _("Internal error"),
    }


def body(problem: ApiProblem) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": f"urn:zalohub:problem:{problem.code}",
        "title": problem.title or _titles().get(problem.status, ""),
        "status": problem.status,
        "code": problem.code,
        "detail": problem.detail,
    }
    data.update({k: v for k, v in problem.extra.items() if v is not None})
    return data


def response(problem: ApiProblem) -> HttpResponse:
    answer = HttpResponse(
        json.dumps(body(problem), ensure_ascii=False, default=str),
        status=problem.status,
        content_type=CONTENT_TYPE,
    )
    for name, value in problem.headers.items():
        answer[name] = value
    return answer


def not_found(detail: str = "") -> ApiProblem:
    return ApiProblem(404, "not_found", detail or _("No such object, or not within this key."))


def install(api: NinjaAPI) -> None:
    """Every error the API answers, as a problem."""

    # ninja hands a handler the exception (typed as it or its class).
    def on_problem(request: HttpRequest, exc: Any) -> HttpResponse:
        return response(exc)

    def on_404(request: HttpRequest, exc: Any) -> HttpResponse:
        return response(not_found())

    def on_auth(request: HttpRequest, exc: Any) -> HttpResponse:
        problem = ApiProblem(
            401,
            "unauthenticated",
            _("Send a valid, unrevoked API key as 'Authorization: Bearer <key>'."),
        )
        problem.headers["WWW-Authenticate"] = "Bearer"
        return response(problem)

    def on_http(request: HttpRequest, exc: Any) -> HttpResponse:
        code = {400: "bad_request", 403: "forbidden", 404: "not_found"}.get(
            exc.status_code, "http_error"
        )
        return response(ApiProblem(exc.status_code, code, str(exc)))

    def on_validation(request: HttpRequest, exc: Any) -> HttpResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors
        ]
        detail = _("The request does not match the schema: see errors.")
        return response(ApiProblem(422, "invalid_request", detail, errors=errors))

    def on_error(request: HttpRequest, exc: Any) -> HttpResponse:
        logger.exception("API error on %s %s", request.method, request.path)
        return response(ApiProblem(500, "internal_error", _("The hub failed; it is logged.")))

    api.add_exception_handler(ApiProblem, on_problem)
    api.add_exception_handler(Http404, on_404)
    api.add_exception_handler(AuthenticationError, on_auth)
    api.add_exception_handler(HttpError, on_http)
    api.add_exception_handler(ValidationError, on_validation)
    api.add_exception_handler(Exception, on_error)


# The errors every authenticated operation may answer (declared for the OpenAPI).
COMMON = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 422: Problem, 429: Problem}
POST_ERRORS = {**COMMON, 409: Problem}
