"""The webhook under hostile input (issue 13, items 5, 6, 8, 9): never a 500, bounded
growth, events attached only to their own app's OAs, no inbox pinned by a future time."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.helpers import fixture, zalo_signature
from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.events.actions import event_retry_processing
from zalohub.events.ingestion import receive as ingest
from zalohub.events.ingestion.rejected import TOTAL, UNKNOWN, app_bucket, prune
from zalohub.events.models import ProcessingState, RejectedRequest, RejectedTally, ZaloEvent
from zalohub.events.processing.queue import drain
from zalohub.sandbox.world import APP_SALES_ID, OA_SALES_ID, demo_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(zalo_app) -> str:
    return zalo_app.oa_secret_key


def signed(client, app, raw: str | bytes, **headers: str):
    """POST ``raw`` signed with the app's OA secret key, whatever it holds."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        timestamp = str(json.loads(text).get("timestamp", ""))
    except (RecursionError, ValueError, AttributeError):
        timestamp = ""
    signature = zalo_signature(
        first=app.app_id, raw=text, timestamp=timestamp, key=app.oa_secret_key
    )
    return client.post(
        f"/zalo/webhook/{app.app_id}/",
        data=raw,
        content_type="application/json",
        HTTP_X_ZEVENT_SIGNATURE=signature,
        **{f"HTTP_{name.upper()}": value for name, value in headers.items()},
    )


def refused(response, status: int, reason: str) -> RejectedRequest:
    """It should answer a JSON 4xx, store no event, and keep a storable record."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    assert reason in response.json()["error"]
    assert not ZaloEvent.objects.exists()
    record = RejectedRequest.objects.get()
    assert record.status_code == status and reason in record.reason
    assert "\x00" not in record.body + record.app_id + json.dumps(record.headers)
    return record


# --- item 5: no 500 ------------------------------------------------------------------


def test_it_refuses_deeply_nested_json(client, zalo_app):
    depth = 40_000  # past the parser's limit, within the body limit
    raw = '{"a":' * depth + "1" + "}" * depth
    refused(signed(client, zalo_app, raw), 400, "nested")


def test_it_refuses_json_nested_past_what_the_pipeline_reads(client, zalo_app):
    # Parses (Python's parser allows a few thousand levels), but the worker and the admin
    # would each recurse through it: refused as well, long before that.
    raw = json.dumps({"app_id": zalo_app.app_id, "timestamp": "1763800000000"})
    raw = raw[:-1] + ', "deep": ' + "[" * 500 + "]" * 500 + "}"
    refused(signed(client, zalo_app, raw), 400, "nested")


def test_it_refuses_an_integer_of_more_than_4300_digits(client, zalo_app):
    raw = '{"event_name": "user_send_text", "n": ' + "7" * 5000 + "}"
    refused(signed(client, zalo_app, raw), 400, "not JSON")


def test_it_refuses_a_non_ascii_signature(client, zalo_app):
    raw = fixture("user_send_text__official")
    response = client.post(
        f"/zalo/webhook/{zalo_app.app_id}/",
        data=raw,
        content_type="application/json",
        HTTP_X_ZEVENT_SIGNATURE="mac=ñ" + "0" * 63,
    )
    refused(response, 401, "not ASCII")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"event_name": "x\x00"}', id="raw-nul-in-string"),
        pytest.param(b"\x00\x00\x00", id="raw-nul"),
    ],
)
def test_it_refuses_a_raw_nul_byte_and_stores_the_record(client, zalo_app, body):
    record = refused(signed(client, zalo_app, body), 400, "not JSON")
    assert record.body_size == len(body)
    assert "\\u0000" in record.body  # escaped, so the record says what came


@pytest.mark.parametrize("field", ["event_name", "text", "msg_id", "sender"])
def test_it_refuses_a_signed_event_with_an_escaped_nul(client, zalo_app, connected_oa, field):
    payload = json.loads(fixture("user_send_text__official"))
    if field == "event_name":
        payload["event_name"] = "user_send_text\u0000"
    elif field == "sender":
        payload["sender"]["id"] = "78\u000000"
    else:
        payload["message"][field] = "a\u0000b"
    raw = json.dumps(payload)
    assert "\\u0000" in raw
    refused(signed(client, zalo_app, raw), 400, "NUL")


def test_it_refuses_a_lone_surrogate(client, zalo_app):
    raw = fixture("user_send_text__official").replace('"user_send_text"', '"user_send_\\ud800"')
    refused(signed(client, zalo_app, raw), 400, "surrogate")


def test_an_escaped_emoji_or_an_escaped_backslash_is_still_accepted(client, zalo_app):
    # The check looks past the escapes it is wary of: a real pair and a literal "\u0000".
    payload = json.loads(fixture("user_send_text__official"))
    payload["message"]["text"] = "\U0001f600 \\u0000"
    raw = json.dumps(payload)  # ensure_ascii: the emoji travels as \ud83d\ude00
    assert "\\ud83d" in raw
    assert signed(client, zalo_app, raw).status_code == 200
    assert ZaloEvent.objects.get().raw_body == raw


def test_it_refuses_a_nul_in_the_app_id_of_the_url(client, zalo_app):
    raw = fixture("user_send_text__official")
    record = refused(client.post("/zalo/webhook/%00/", data=raw, content_type="x"), 404, "unknown")
    assert record.app_id == "\\u0000"


def test_it_answers_a_body_over_djangos_own_limit_with_json(client, zalo_app, settings):
    # Over DATA_UPLOAD_MAX_MEMORY_SIZE as well: Django itself would answer an HTML 400.
    raw = b'{"a": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + b'"}'
    record = refused(signed(client, zalo_app, raw), 413, "larger than")
    assert record.body_size == len(raw)
    assert len(record.body) <= settings.WEBHOOK_REJECTED_BODY_BYTES


def test_a_header_with_a_nul_is_stored_escaped(client, zalo_app):
    raw = fixture("user_send_text__official")
    response = signed(client, zalo_app, raw, user_agent="zalo\x00bot")
    assert response.status_code == 200
    assert ZaloEvent.objects.get().headers["user-agent"] == "zalo\\u0000bot"


# --- item 6: bounded growth ------------------------------------------------------------


def test_unknown_app_ids_keep_the_lookup_cache_at_its_bound(zalo_app, settings):
    settings.WEBHOOK_LOOKUP_CACHE_MAX_ENTRIES = 100
    settings.WEBHOOK_REJECTED_MAX_ROWS_PER_APP = 10  # the records are not what is tested
    ingest.forget_cached_lookups()
    sizes = []
    for n in range(5000):
        assert ingest._app(f"forged-{n}") is None
        sizes.append(len(ingest._unknown_apps))
    # It should remember unknown ids up to its bound, never more.
    assert max(sizes) == 100 and sizes[-1] == 100
    assert "forged-4999" in ingest._unknown_apps and "forged-0" not in ingest._unknown_apps
    # Through the webhook too, and a flood of unknown ids never pushes the real app out.
    raw = fixture("user_send_text__official").encode()
    assert ingest.ingest_webhook(app_id=zalo_app.app_id, raw=raw, headers={}).status == 401
    for n in range(150):
        assert ingest.ingest_webhook(app_id=f"again-{n}", raw=raw, headers={}).status == 404
    assert list(ingest._apps) == [zalo_app.app_id]
    assert len(ingest._unknown_apps) == 100
    # An id longer than any app's is not even looked up, nor remembered.
    long_id = "9" * 10_000
    assert ingest.ingest_webhook(app_id=long_id, raw=raw, headers={}).status == 404
    assert long_id not in ingest._unknown_apps
    ingest.forget_cached_lookups()


def _forge(client, app_id: str, n: int, *, size: int = 100) -> None:
    for i in range(n):
        body = json.dumps({"n": i, "pad": "x" * size})
        response = client.post(f"/zalo/webhook/{app_id}/", data=body, content_type="x")
        assert response.status_code in (401, 404)


def _tally(bucket: str) -> RejectedTally:
    return RejectedTally.objects.get(bucket=bucket)


def test_rejected_requests_are_capped_per_app_and_the_overflow_is_counted(
    client, zalo_app, settings
):
    settings.WEBHOOK_REJECTED_MAX_ROWS_PER_APP = 5
    _forge(client, zalo_app.app_id, 8)
    # It should keep 5 for the app and count the other 3 (and their bytes), not store them.
    assert RejectedRequest.objects.filter(app_id=zalo_app.app_id).count() == 5
    tally = _tally(app_bucket(zalo_app.app_id))
    assert (tally.kept_rows, tally.dropped_rows) == (5, 3)
    assert tally.dropped_bytes > 300 and tally.last_dropped_at is not None
    assert tally.kept_bytes == sum(RejectedRequest.objects.values_list("stored_bytes", flat=True))
    # Unknown app ids have their own allowance: a flood of them leaves the app's alone.
    _forge(client, "made-up", 7)
    assert (_tally(UNKNOWN).kept_rows, _tally(UNKNOWN).dropped_rows) == (5, 2)
    assert _tally(TOTAL).kept_rows == 10


def test_rejected_requests_are_capped_by_size_and_in_total(client, zalo_app, settings):
    settings.WEBHOOK_REJECTED_MAX_BYTES_PER_APP = 10_000
    _forge(client, zalo_app.app_id, 10, size=3000)
    # It should stop at the bytes cap: three rows of ~3 KB fit in 10,000 bytes.
    assert RejectedRequest.objects.count() == 3
    assert _tally(app_bucket(zalo_app.app_id)).kept_bytes <= 10_000
    assert _tally(app_bucket(zalo_app.app_id)).dropped_rows == 7
    settings.WEBHOOK_REJECTED_MAX_BYTES_PER_APP = 10**9
    settings.WEBHOOK_REJECTED_MAX_ROWS = 4
    _forge(client, "made-up", 3, size=10)
    # ... and at the total's row cap, whichever allowance the request is of.
    assert RejectedRequest.objects.count() == 4
    assert _tally(UNKNOWN).dropped_rows == 2


def test_the_prune_recounts_what_each_allowance_keeps(client, zalo_app, settings):
    settings.WEBHOOK_REJECTED_MAX_ROWS_PER_APP = 3
    _forge(client, zalo_app.app_id, 5)
    assert _tally(app_bucket(zalo_app.app_id)).kept_rows == 3
    # Rows deleted by age (and by an admin) free their allowance once the prune runs.
    old = timezone.now() - timedelta(days=settings.WEBHOOK_REJECTED_RETENTION_DAYS + 1)
    first = RejectedRequest.objects.order_by("id").first()
    RejectedRequest.objects.filter(pk=first.pk).update(received_at=old)
    assert prune() == 1
    tally = _tally(app_bucket(zalo_app.app_id))
    assert (tally.kept_rows, tally.dropped_rows) == (2, 2)
    assert tally.kept_bytes == sum(RejectedRequest.objects.values_list("stored_bytes", flat=True))
    _forge(client, zalo_app.app_id, 2)
    assert RejectedRequest.objects.count() == 3 and _tally(TOTAL).kept_rows == 3


def test_the_admin_shows_the_allowances_and_what_was_not_stored(
    client, auditor, zalo_app, settings
):
    settings.WEBHOOK_REJECTED_MAX_ROWS_PER_APP = 2
    _forge(client, zalo_app.app_id, 5)
    client.force_login(auditor)  # granted Zalo Events, whose list this is
    page = client.get("/admin/events/rejectedrequest/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="rejected-allowances"' in html
    assert zalo_app.app_id in html and ">3<" in html  # the three not stored


# --- item 8: an event belongs to the app that accepted it ------------------------------


def _sales_oa() -> OfficialAccount:
    """App B of the sandbox's world, with its OA, beside the zalo_app fixture's app A."""
    spec = demo_world()["apps"][1]
    app_b = ZaloApp.objects.create(
        name=spec["name"],
        app_id=APP_SALES_ID,
        secret_key=spec["secret_key"],
        oa_secret_key=spec["oa_secret_key"],
    )
    return OfficialAccount.objects.create(app=app_b, name="Sales", oa_id=OA_SALES_ID)


def test_an_event_signed_by_app_a_is_never_attached_to_an_oa_of_app_b(client, zalo_app):
    sales = _sales_oa()
    raw = fixture("user_send_text__official", **{"4310500000000000001": OA_SALES_ID})
    assert signed(client, zalo_app, raw).status_code == 200
    # It should store the event for app A, attached to no OA (A has none by that id)...
    event = ZaloEvent.objects.get()
    assert event.app == zalo_app and event.oa is None
    drain()
    event.refresh_from_db()
    assert event.processing_state == ProcessingState.ERROR
    assert not sales.messages.exists()
    # ... and Retry Processing should apply the same rule, even to an event that an
    # earlier version attached to B's OA.
    ZaloEvent.objects.filter(pk=event.pk).update(oa=sales)
    event.refresh_from_db()
    event_retry_processing(event=event)
    event.refresh_from_db()
    assert event.oa is None
    drain()
    assert not sales.messages.exists()


def test_retry_processing_keeps_an_oa_of_the_events_own_app(client, zalo_app, connected_oa):
    raw = fixture("user_send_text__official")
    assert signed(client, zalo_app, raw).status_code == 200
    drain()
    event = event_retry_processing(event=ZaloEvent.objects.get())
    assert event.oa == connected_oa


def test_a_zns_receipt_of_app_b_never_moves_a_template_message_of_app_a(
    client, zalo_app, connected_oa
):
    from zalohub.events.models import Direction, Message, ZaloState

    sales = _sales_oa()
    ours = Message.objects.create(
        oa=connected_oa,
        direction=Direction.OUTBOUND,
        kind=Message.Kind.TEMPLATE,
        zalo_user_id="84912345678",
        zalo_msg_id="15a0cc0bbb13bd4ce403",
        zalo_state=ZaloState.SENT,
    )
    raw = fixture("user_received_message__zns", **{zalo_app.app_id: APP_SALES_ID})
    assert signed(client, sales.app, raw).status_code == 200
    drain()
    # It should not take app A's message (same msg_id) for a receipt app B accepted.
    ours.refresh_from_db()
    assert ours.zalo_state == ZaloState.SENT
    receipt = ZaloEvent.objects.get()
    assert receipt.oa_id is None and receipt.message_id is None


# --- item 9: a future timestamp does not pin a conversation ----------------------------


def _at(when) -> str:
    return str(int(when.timestamp() * 1000))


def test_a_future_timestamp_does_not_pin_its_conversation_to_the_top(
    client, zalo_app, connected_oa
):
    from zalohub.inbox.models import Conversation

    future = _at(timezone.now() + timedelta(days=365 * 50))
    raw = fixture("user_send_text__official", **{"1763800000000": future})
    assert signed(client, zalo_app, raw).status_code == 200
    later = fixture(
        "user_send_text__official",
        **{
            # An hour ahead (a clock a little off): clamped too, so it arrived later.
            "1763800000000": _at(timezone.now() + timedelta(hours=1)),
            "7800000000000000101": "7800000000000000999",
            "96d3cdf3af150460909": "a-later-message",
        },
    )
    assert signed(client, zalo_app, later).status_code == 200
    assert drain() == 2
    # It should take no message's time past when it reached the hub: the later one wins.
    pinned = ZaloEvent.objects.get(dedupe_key__endswith="96d3cdf3af150460909")
    assert pinned.event_time > timezone.now()  # the claim is kept as evidence
    assert pinned.message.created_at == pinned.received_at
    order = Conversation.objects.order_by("-last_message_at", "-id")
    assert list(order.values_list("zalo_user_id", flat=True)) == [
        "7800000000000000999",
        "7800000000000000101",
    ]
    assert order.last().last_message_at == pinned.received_at


def test_a_refusal_with_a_number_reads_in_each_readers_language(client, zalo_app, settings):
    # A body over the limit is refused; the row keeps the reason's msgid and number, so
    # the rejected-requests list reads it in English and in Vietnamese alike.
    from django.utils import translation

    settings.WEBHOOK_MAX_BODY_BYTES = 64
    raw = json.dumps({"event_name": "user_send_text", "pad": "x" * 200})
    record = refused(signed(client, zalo_app, raw), 413, "larger than 64 bytes")
    with translation.override("en"):
        assert record.reason_shown() == "body larger than 64 bytes"
    with translation.override("vi"):
        assert record.reason_shown() == "nội dung lớn hơn 64 byte"
