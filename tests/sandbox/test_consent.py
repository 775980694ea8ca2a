"""The consent page of OAuth v4 for OAs: what it shows, refuses, and where it sends you."""

from urllib.parse import parse_qsl, urlsplit

from tests.helpers import consent
from tests.sandbox.wire import CALLBACK, challenge_of, make_verifier, query_of
from zalohub.sandbox.world import APP_SALES_ID, APP_SUPPORT_ID, OA_SALES_ID, OA_SUPPORT_ID


def test_it_shows_the_app_its_oas_and_both_buttons(wire):
    page = wire.consent_page(
        app_id=APP_SUPPORT_ID, redirect_uri=CALLBACK, code_challenge="abc", state="s1"
    )
    # It should name the app, offer its OA (and only its OA) and the two buttons.
    assert page.status_code == 200
    assert "zalohub Support App" in page.text
    assert f'name="oa_id" id="oa-{OA_SUPPORT_ID}"' in page.text
    assert OA_SALES_ID not in page.text
    assert 'id="approve"' in page.text and 'id="deny"' in page.text
    # It should show the OA's avatar from the sandbox itself, never an outside host.
    assert f"{wire.base}/_sandbox/avatar/support-oa.svg" in page.text


def test_the_page_form_round_trips_like_a_browser(wire):
    url = (
        f"{wire.base}/oauth/v4/oa/permission?app_id={APP_SALES_ID}"
        f"&redirect_uri={CALLBACK}&code_challenge=xyz&state=s2"
    )
    # It should post the hidden fields back and redirect with a code for the picked OA.
    params = consent(url)
    assert params["oa_id"] == OA_SALES_ID and params["state"] == "s2" and params["code"]
    assert consent(url, action="deny")["error"] == "access_denied"


def test_it_names_zalos_error_for_an_unknown_app(wire):
    page = wire.consent_page(app_id="999", redirect_uri=CALLBACK, code_challenge="c", state="s")
    assert page.status_code == 400
    assert "-14002" in page.text and "Invalid app id" in page.text


def test_it_refuses_a_redirect_uri_the_console_does_not_list(wire, sandbox):
    sandbox.apps[APP_SUPPORT_ID]["redirect_uris"] = ["https://hub.example.com/cb"]
    page = wire.consent_page(app_id=APP_SUPPORT_ID, redirect_uri=CALLBACK, code_challenge="c")
    assert page.status_code == 400
    assert "-14003" in page.text and "Invalid redirect uri" in page.text
    # It should accept the registered one, byte for byte.
    ok = wire.consent_page(app_id=APP_SUPPORT_ID, redirect_uri="https://hub.example.com/cb")
    assert ok.status_code == 200
    # It should check the answer too, not only the page.
    assert wire.answer("approve").status_code == 400


def test_it_requires_the_challenge_pinned_in_the_console(wire, sandbox):
    verifier = make_verifier()
    sandbox.apps[APP_SUPPORT_ID]["pinned_code_challenge"] = challenge_of(verifier)
    page = wire.consent_page(
        app_id=APP_SUPPORT_ID, redirect_uri=CALLBACK, code_challenge=challenge_of(make_verifier())
    )
    assert page.status_code == 400 and "-14005" in page.text
    # It should let the pinned challenge through and accept its verifier.
    params = wire.approve(verifier=verifier)
    assert "access_token" in wire.by_code(params["code"], verifier)


def test_approve_redirects_with_code_oa_and_state(wire, sandbox):
    response = wire.answer("approve", challenge="c", state="opaque-state")
    params = query_of(response)
    # It should send the browser back to the callback with a code for the OA it picked.
    assert response.headers["location"].startswith(CALLBACK + "?")
    assert set(params) == {"code", "oa_id", "state"}
    assert params["oa_id"] == OA_SUPPORT_ID and params["state"] == "opaque-state"
    assert len(params["code"]) >= 40
    assert sandbox.call_count("oauth.permission") == 1


def test_it_keeps_the_callbacks_own_query_and_omits_an_empty_state(wire):
    response = wire.answer("approve", redirect_uri=CALLBACK + "?tenant=7", state="")
    params = dict(parse_qsl(urlsplit(response.headers["location"]).query))
    assert params["tenant"] == "7" and params["code"]
    assert "state" not in params


def test_deny_redirects_with_access_denied(wire, sandbox):
    params = query_of(wire.answer("deny", state="st-9"))
    assert params["error"] == "access_denied"
    assert params["error_description"]
    assert params["state"] == "st-9"
    assert "code" not in params
    assert not sandbox.tokens.codes


def test_it_refuses_an_oa_the_app_does_not_manage(wire):
    response = wire.answer("approve", app_id=APP_SUPPORT_ID, oa_id=OA_SALES_ID)
    assert response.status_code == 400
    assert wire.answer("dance").status_code == 400


def test_an_app_without_oas_can_only_be_denied(wire, sandbox):
    sandbox.reset(
        {"apps": [{"app_id": "1", "name": "Lonely", "secret_key": "s"}], "oas": [], "users": []}
    )
    page = wire.consent_page(app_id="1", redirect_uri=CALLBACK)
    assert 'id="no-oa"' in page.text and "disabled" in page.text
    assert wire.answer("approve", app_id="1").status_code == 400
