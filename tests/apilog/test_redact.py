"""Redaction: what reaches an API log row never carries a credential."""

import json

from zalohub.apilog.redact import REDACTED, redact_body, redact_headers, redact_url


def test_it_redacts_credentials_in_headers():
    headers = redact_headers({"access_token": "tok", "secret_key": "s", "Content-Type": "x"})
    assert headers == {"access_token": REDACTED, "secret_key": REDACTED, "Content-Type": "x"}


def test_it_redacts_nested_json_and_form_bodies():
    body = redact_body({"data": {"refresh_token": "r1", "items": [{"code": "c"}], "ok": 1}})
    assert "r1" not in body and '"c"' not in body
    assert json.loads(body)["data"]["ok"] == 1
    form = redact_body("code=abc&app_id=1&code_verifier=xyz&grant_type=authorization_code")
    assert "abc" not in form and "xyz" not in form and "app_id=1" in form


def test_it_redacts_token_answers_given_as_text():
    text = '{"access_token": "AAA", "refresh_token": "BBB", "expires_in": "90000"}'
    redacted = redact_body(text)
    assert "AAA" not in redacted and "BBB" not in redacted and "90000" in redacted


def test_it_redacts_query_strings_but_keeps_the_rest():
    url = redact_url("https://h/x?access_token=abc&data=%7B%22user_id%22%3A%221%22%7D")
    assert "abc" not in url
    assert "user_id" in url


def test_it_leaves_text_that_is_not_a_structure_alone():
    assert redact_body("Service Unavailable") == "Service Unavailable"
    assert redact_body(None) == ""
