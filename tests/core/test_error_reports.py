"""Error reports to Sentry (SENTRY_DSN): nothing that can hold a credential is sent.

sentry-sdk runs for real with a transport of the test's own: events are captured here
instead of being sent (the DSN names a loopback address nobody listens on)."""

import logging

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from zalohub.core import errors, requestid

SECRETS = ["AT-SECRET-1", "RT-SECRET-2", "OA-KEY-3", "BEARER-4", "LOCAL-5", "COOKIE-6"]


class Captured(Transport):
    sent: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        Captured.sent.append(envelope)


@pytest.fixture
def reporting():
    Captured.sent = []
    assert errors.init_sentry("http://public@127.0.0.1:9/1", transport=Captured)
    yield Captured.sent
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # no DSN: reporting off again for the other tests


# The secrets are taken from SECRETS, never written near a line a report may quote: a
# report carries the source lines around each frame (source code holds no secret).
AT, RT, OA_KEY, BEARER, LOCAL, COOKIE = SECRETS


def _fail_with_secrets() -> None:
    token = LOCAL  # noqa: F841  (a local variable: never sent)
    raise RuntimeError(
        f"Zalo refused https://openapi.zalo.me/v3.0/oa/message?access_token={AT}: "
        f'{{"refresh_token": "{RT}", "error": -216}}'
    )


def test_a_report_carries_the_request_id_and_no_secret(reporting):
    logging.getLogger("zalohub.test").warning(
        f"calling with secret_key={OA_KEY} and Authorization: Bearer {BEARER}"
    )  # a breadcrumb
    sentry_sdk.set_extra("call", {"oa_secret_key": OA_KEY, "headers": {"Cookie": COOKIE}})
    with requestid.bound("req-for-sentry-1"):
        try:
            _fail_with_secrets()
        except RuntimeError:
            sentry_sdk.capture_exception()
    sentry_sdk.flush()
    assert reporting, "the report should have been captured"
    sent = b"".join(envelope.serialize() for envelope in reporting)
    # It should send the report, tagged with the request id...
    assert b"req-for-sentry-1" in sent and b"RuntimeError" in sent and b"-216" in sent
    # ... and no token, key, cookie or local variable.
    for secret in SECRETS:
        assert secret.encode() not in sent, secret
    assert b"[redacted]" in sent


def test_before_send_scrubs_what_the_django_integration_adds():
    event = {
        "request": {
            "url": "https://hub.example.com/accounts/oauth/callback",
            "query_string": "code=AT-SECRET-1&state=abc",
            "headers": {"Authorization": "Bearer BEARER-4", "X-Zevent-Signature": "mac=RT"},
            "cookies": {"sessionid": "COOKIE-6"},
            "data": '{"message": {"text": "a customer\'s words"}}',
        },
        "exception": {"values": [{"value": "refresh_token=RT-SECRET-2 refused"}]},
    }
    scrubbed = errors.before_send(event, {})
    text = repr(scrubbed)
    # It should drop bodies and cookies, and redact headers, query strings and messages.
    assert "data" not in scrubbed["request"] and "cookies" not in scrubbed["request"]
    for secret in [*SECRETS, "mac=RT", "customer"]:
        assert secret not in text, secret
    assert "state=abc" in text  # what is not a credential stays
