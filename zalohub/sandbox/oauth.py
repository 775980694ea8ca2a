"""OAuth v4 for Official Accounts: the consent page and the token endpoint (API.md §1)."""

import hmac
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from zalohub.sandbox import responses
from zalohub.sandbox.calls import zalo_call, zalo_header
from zalohub.sandbox.state import SandboxState, get_state
from zalohub.sandbox.tokens import GrantRefused

# Per-grant route names, so a fault or a call count can single out refreshes.
_TOKEN_ROUTES = {
    "authorization_code": "oauth.access_token.code",
    "refresh_token": "oauth.access_token.refresh",
}

# What the sandbox sends back on Deny. Zalo's real behaviour on a refused consent is
# unconfirmed (API.md documents only the success redirect); this is the OAuth 2.0 shape
# (RFC 6749 §4.1.2.1), which a careful client must handle anyway.
DENIED_DESCRIPTION = "The user denied the permission request."


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _link_error(
    state: SandboxState, request: HttpRequest, link: dict[str, str]
) -> HttpResponse | None:
    """The consent link's parameters checked as Zalo's page checks them."""
    app = state.apps.get(link["app_id"])
    if app is None:
        return responses.consent_error_page(request, -14002)
    redirect_uri = link["redirect_uri"]
    registered = app.get("redirect_uris") or []
    if not redirect_uri or (registered and redirect_uri not in registered):
        # Zalo byte-compares with the callback saved in its console (API.md §1.2).
        return responses.consent_error_page(request, -14003)
    pinned = app.get("pinned_code_challenge")
    if pinned and link["code_challenge"] != pinned:
        # When the console pins one challenge, a link with another cannot succeed. Where
        # Zalo reports it (here, or later as -14005 at the token call) is unconfirmed.
        return responses.consent_error_page(
            request, -14005, _("The code challenge differs from the one set for this app.")
        )
    return None


def _link(params: Any) -> dict[str, str]:
    return {
        name: params.get(name, "") for name in ("app_id", "redirect_uri", "code_challenge", "state")
    }


@csrf_exempt
def permission(request: HttpRequest) -> HttpResponse:
    """GET: the consent page. POST: the person's answer (Approve or Deny)."""
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    state = get_state()
    params = request.GET if request.method == "GET" else request.POST
    link = _link(params)
    route = "oauth.permission" if request.method == "GET" else "oauth.permission.submit"
    if fault := zalo_call(state, route, app_id=link["app_id"], style="html"):
        return fault
    if error := _link_error(state, request, link):
        return error
    if request.method == "GET":
        return _consent_page(request, state, link)
    return _answer(request, state, link, params)


def _consent_page(request: HttpRequest, state: SandboxState, link: dict[str, str]) -> HttpResponse:
    app = state.apps[link["app_id"]]
    oas = [
        {**state.oas[oa_id], "avatar_url": responses.absolute(request, state.oas[oa_id]["avatar"])}
        for oa_id in state.oa_ids_of(link["app_id"])
    ]
    return render(request, "sandbox/consent.html", {"app": app, "oas": oas, "link": link})


def _answer(
    request: HttpRequest, state: SandboxState, link: dict[str, str], params: Any
) -> HttpResponse:
    # Whether Zalo echoes ``state`` is unconfirmed (API.md §1.2): an app set with
    # "echo_state": false answers with code and oa_id only, as Zalo's docs show.
    echo_state = state.apps[link["app_id"]].get("echo_state", True)
    echo = {"state": link["state"]} if link["state"] and echo_state else {}
    action = params.get("action", "")
    if action == "deny":
        return HttpResponseRedirect(
            _with_query(
                link["redirect_uri"],
                {
                    "error": "access_denied",
                    "error_description": DENIED_DESCRIPTION,
                    **echo,
                },
            )
        )
    if action != "approve":
        return responses.consent_error_page(request, 0, _("Choose Approve or Deny."))
    choices = state.oa_ids_of(link["app_id"])
    oa_id = params.get("oa_id", "") or (choices[0] if len(choices) == 1 else "")
    if oa_id not in choices:
        return responses.consent_error_page(
            request, 0, _("Choose one of this app's Official Accounts.")
        )
    with state.changing():
        code = state.tokens.issue_code(
            app_id=link["app_id"],
            oa_id=oa_id,
            redirect_uri=link["redirect_uri"],
            code_challenge=link["code_challenge"],
            now=state.now(),
        )
    # Zalo documents code and oa_id; echoing state is implied by its SDKs (API.md §1.2).
    return HttpResponseRedirect(
        _with_query(link["redirect_uri"], {"code": code, "oa_id": oa_id, **echo})
    )


@csrf_exempt
def access_token(request: HttpRequest) -> HttpResponse:
    """Both grants on one endpoint, form-encoded, the app secret in a ``secret_key`` header."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    state = get_state()
    form = request.POST
    grant = form.get("grant_type", "")
    app_id = form.get("app_id", "")
    route = _TOKEN_ROUTES.get(grant, "oauth.access_token")
    if fault := zalo_call(state, route, app_id=app_id, style="oauth"):
        return fault
    app = state.apps.get(app_id)
    if app is None:
        return responses.oauth_error(-14002)
    if not hmac.compare_digest(
        zalo_header(request, "secret_key").encode(), str(app["secret_key"]).encode()
    ):
        return responses.oauth_error(-14004)
    if grant not in _TOKEN_ROUTES:
        return responses.oauth_error(-14018)
    try:
        with state.changing():
            if grant == "authorization_code":
                pair = state.tokens.redeem_code(
                    app_id=app_id,
                    code=form.get("code", ""),
                    code_verifier=form.get("code_verifier", ""),
                    now=state.now(),
                )
            else:
                pair = state.tokens.rotate(
                    app_id=app_id, refresh_token=form.get("refresh_token", ""), now=state.now()
                )
    except GrantRefused as refused:
        return responses.oauth_error(refused.code)
    return responses.json(
        {
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "expires_in": str(pair.expires_in),  # a string, as Zalo sends it
        }
    )
