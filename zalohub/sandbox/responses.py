"""Zalo's response shapes, built here and nowhere else in the sandbox.

The error texts below are Zalo's own wire strings (API.md §1.6, §2.5). They are data a
client parses, not interface text, so they are deliberately not translated: real Zalo
sends them in English whatever the caller's language.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from zalohub.sandbox import error_texts

# OA API (openapi host): code -> Zalo's message, every code of API.md §2.5.
OA_MESSAGES = error_texts.OA_MESSAGES

# OAuth v4 token endpoint: code -> (error_name, error_description). Only these codes have
# been seen from Zalo (API.md §1.6); the descriptions are the sandbox's wording.
OAUTH_ERRORS = {
    -14002: ("Invalid appId", "The app_id is unknown or the app is not active."),
    -14003: ("Invalid redirect uri", "The redirect_uri does not match the app's callback."),
    -14004: ("Invalid secret key", "The secret_key header does not match the app secret."),
    -14005: (
        "Invalid code",
        "The authorization code is invalid, expired or already used, "
        "or the code_verifier does not match the code_challenge.",
    ),
    -14014: ("Invalid refresh token.", "The refresh token is invalid, expired or already used."),
    -14018: ("Invalid grant type", "grant_type must be authorization_code or refresh_token."),
}

# The consent page names its errors as Zalo's page does: code and short name.
CONSENT_ERRORS = {
    -14002: "Invalid app id",
    -14003: "Invalid redirect uri",
    -14005: "Invalid code challenge",
}


def json(body: dict[str, Any], status: int = 200) -> JsonResponse:
    # Zalo sends UTF-8 JSON with Vietnamese text unescaped.
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def oa_ok(data: Any) -> JsonResponse:
    return json({"data": data, "error": 0, "message": "Success"})


def oa_error(code: int, message: str | None = None) -> JsonResponse:
    """An OA API error: HTTP 200, negative code, no ``data`` (API.md §2.1)."""
    return json({"error": code, "message": message or OA_MESSAGES.get(code, "Unknown error")})


def zns_error(code: int, message: str | None = None) -> JsonResponse:
    """A business-host (ZBS/ZNS) error: the OA envelope with that host's messages (API.md
    §4.5; its -100 is not the OA host's)."""
    return json({"error": code, "message": message or error_texts.ZNS_MESSAGES.get(code, "")})


def oauth_error(code: int, description: str | None = None) -> JsonResponse:
    """A token-endpoint error: HTTP 200 with error_name/description, no ``message``."""
    name, default = OAUTH_ERRORS.get(code, ("Unknown error", "Unknown error"))
    return json(
        {
            "error": code,
            "error_name": name,
            "error_description": description or default,
            "error_reason": "",
            "ref_doc": "",
        }
    )


def consent_error_page(
    request: HttpRequest | None, code: int, detail: str | None = None, status: int = 400
) -> HttpResponse:
    html = render_to_string(
        "sandbox/consent_error.html",
        {"code": code, "name": CONSENT_ERRORS.get(code, ""), "detail": detail or ""},
        request=request,
    )
    return HttpResponse(html, status=status)


def sandbox_base(request: HttpRequest) -> str:
    # The Host header, not ALLOWED_HOSTS-checked get_host(): the sandbox answers on
    # loopback only and must not depend on the hub's host settings.
    host = request.META.get("HTTP_HOST") or (
        f"{request.META.get('SERVER_NAME', '127.0.0.1')}:{request.META.get('SERVER_PORT', '')}"
    )
    return f"http://{host}"


def absolute(request: HttpRequest, url: str) -> str:
    """A world path such as ``/_sandbox/avatar/x.svg`` as a URL the hub can fetch."""
    return f"{sandbox_base(request)}{url}" if url.startswith("/") else url


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return HttpResponse("404 Not Found", status=404, content_type="text/plain; charset=utf-8")


def server_error(request: HttpRequest) -> HttpResponse:
    return HttpResponse(
        "500 Internal Server Error", status=500, content_type="text/plain; charset=utf-8"
    )
