"""The OAuth v4 token endpoint: codes, PKCE, secrets, rotation, and Zalo's error bodies."""

import pytest

from tests.sandbox.wire import SECRETS, make_verifier
from zalohub.sandbox.world import APP_SALES_ID, APP_SUPPORT_ID

OAUTH_ERROR_KEYS = {"error", "error_name", "error_description", "error_reason", "ref_doc"}


def _code(wire, verifier: str, **kwargs: str) -> str:
    return wire.approve(verifier=verifier, **kwargs)["code"]


def _assert_oauth_error(body: dict, code: int) -> None:
    assert set(body) == OAUTH_ERROR_KEYS, body
    assert body["error"] == code
    assert body["error_name"] and body["error_description"]


def test_it_exchanges_a_code_for_a_token_pair(wire, sandbox):
    verifier = make_verifier()
    response = wire.token(
        {
            "code": _code(wire, verifier),
            "app_id": APP_SUPPORT_ID,
            "grant_type": "authorization_code",
            "code_verifier": verifier,
        }
    )
    # It should answer Zalo's documented shape, expires_in as a string of 25 hours.
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "expires_in"}
    assert body["expires_in"] == "90000"
    assert body["access_token"] != body["refresh_token"]
    assert sandbox.call_count("oauth.access_token") == 1
    assert sandbox.call_count("oauth.access_token.code") == 1


def test_a_code_works_once(wire):
    verifier = make_verifier()
    code = _code(wire, verifier)
    assert "access_token" in wire.by_code(code, verifier)
    _assert_oauth_error(wire.by_code(code, verifier), -14005)


def test_a_code_lives_ten_minutes(wire, sandbox):
    verifier = make_verifier()
    young, old = _code(wire, verifier), _code(wire, verifier)
    sandbox.advance_clock(9 * 60 + 50)
    assert "access_token" in wire.by_code(young, verifier)
    sandbox.advance_clock(15)
    _assert_oauth_error(wire.by_code(old, verifier), -14005)


def test_it_checks_the_verifier_against_the_s256_challenge(wire):
    verifier = make_verifier()
    code = _code(wire, verifier)
    # It should refuse another verifier, and the challenge itself sent as a verifier.
    _assert_oauth_error(wire.by_code(code, make_verifier()), -14005)
    _assert_oauth_error(wire.by_code(code, ""), -14005)
    _assert_oauth_error(wire.by_code(code, "ẞ-not-ascii"), -14005)
    # It should still accept the right verifier (a wrong one does not burn the code).
    assert "access_token" in wire.by_code(code, verifier)


def test_a_code_is_bound_to_its_app(wire):
    verifier = make_verifier()
    code = _code(wire, verifier)
    _assert_oauth_error(wire.by_code(code, verifier, app_id=APP_SALES_ID), -14005)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"secret_key": "wrong"}, -14004),
        ({}, -14004),
        # Zalo spells the header with an underscore; a dash is a different header.
        ({"secret-key": SECRETS[APP_SUPPORT_ID]}, -14004),
        ({"secret_key": SECRETS[APP_SALES_ID]}, -14004),
    ],
)
def test_it_refuses_a_wrong_or_missing_secret(wire, headers, expected):
    verifier = make_verifier()
    form = {
        "code": _code(wire, verifier),
        "app_id": APP_SUPPORT_ID,
        "grant_type": "authorization_code",
        "code_verifier": verifier,
    }
    response = wire.token(form, headers=headers)
    assert response.status_code == 200  # Zalo reports OAuth errors with HTTP 200
    _assert_oauth_error(response.json(), expected)


def test_it_refuses_an_unknown_app_and_grant(wire):
    form = {"code": "x", "app_id": "123", "grant_type": "authorization_code"}
    _assert_oauth_error(wire.token(form, secret="s").json(), -14002)
    form = {"app_id": APP_SUPPORT_ID, "grant_type": "client_credentials"}
    _assert_oauth_error(wire.token(form).json(), -14018)


def test_refresh_rotates_both_tokens(wire, sandbox):
    first = wire.connect()
    second = wire.by_refresh(first["refresh_token"])
    # It should hand out a new pair and a fresh 25 hours.
    assert second["expires_in"] == "90000"
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert sandbox.call_count("oauth.access_token.refresh") == 1
    # It should refuse the spent refresh token, as Zalo's terminal -14014.
    again = wire.by_refresh(first["refresh_token"])
    _assert_oauth_error(again, -14014)
    assert again["error_name"] == "Invalid refresh token."
    # It should kill the old access token and honour the new one.
    assert wire.getoa(first["access_token"]).json()["error"] == -220
    assert wire.getoa(second["access_token"]).json()["error"] == 0
    # It should let the new refresh token rotate again.
    assert "access_token" in wire.by_refresh(second["refresh_token"])


def test_a_refresh_token_belongs_to_its_app_and_lives_three_months(wire, sandbox):
    tokens = wire.connect()
    _assert_oauth_error(wire.by_refresh(tokens["refresh_token"], app_id=APP_SALES_ID), -14014)
    _assert_oauth_error(wire.by_refresh("made-up"), -14014)
    sandbox.advance_clock(90 * 24 * 3600 + 1)
    _assert_oauth_error(wire.by_refresh(tokens["refresh_token"]), -14014)


def test_an_access_token_lives_25_hours(wire, sandbox):
    tokens = wire.connect()
    sandbox.advance_clock(25 * 3600 - 5)
    assert wire.getoa(tokens["access_token"]).json()["error"] == 0
    sandbox.advance_clock(10)
    assert wire.getoa(tokens["access_token"]).json() == {
        "error": -220,
        "message": "access_token is expired or removed",
    }


def test_a_new_consent_kills_the_oas_previous_access_token(wire):
    first = wire.connect()
    second = wire.connect()
    assert wire.getoa(first["access_token"]).json()["error"] == -220
    assert wire.getoa(second["access_token"]).json()["error"] == 0
    # It should leave the other app's OA alone.
    other = wire.connect(APP_SALES_ID)
    assert wire.getoa(second["access_token"]).json()["error"] == 0
    assert wire.getoa(other["access_token"]).json()["error"] == 0
