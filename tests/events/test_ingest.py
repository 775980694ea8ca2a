"""Webhook ingestion: verify, store once, answer 200; refuse and record the rest."""

import json

import pytest

from tests.helpers import fixture, post_webhook
from zalohub.events.models import ProcessingState, RejectedRequest, ZaloEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(zalo_app) -> str:
    return zalo_app.oa_secret_key


def test_it_stores_a_signed_event_before_answering(client, zalo_app, connected_oa, key):
    raw = fixture("user_send_text__official")
    response = post_webhook(client, zalo_app.app_id, raw, key=key, num_retry="0")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "duplicate": False}
    # It should keep the raw body byte for byte, the headers that matter, and who it is.
    event = ZaloEvent.objects.get()
    assert event.raw_body == raw
    assert event.processing_state == ProcessingState.RECEIVED
    assert event.event_name == "user_send_text"
    assert event.oa == connected_oa
    assert event.zalo_user_id == "7800000000000000101"
    assert event.signature_variant == "app_id"
    assert event.headers["num_retry"] == "0"
    assert event.headers["x-zevent-signature"].startswith("mac=")
    assert event.dedupe_key == "user_send_text:96d3cdf3af150460909"


def test_it_accepts_each_documented_signature_variant(client, zalo_app, key):
    raw = fixture("follow__official")
    # It should accept the header without the "mac=" prefix, and the OA id as first term.
    assert post_webhook(client, zalo_app.app_id, raw, key=key, prefix=False).status_code == 200
    raw2 = fixture("unfollow__official")
    response = post_webhook(client, zalo_app.app_id, raw2, key=key, first="4310500000000000001")
    assert response.status_code == 200
    variants = dict(ZaloEvent.objects.values_list("event_name", "signature_variant"))
    assert variants == {"follow": "app_id", "unfollow": "oa_id"}


def test_the_same_event_three_times_is_stored_once(client, zalo_app, key):
    raw = fixture("user_send_text__official")
    answers = [
        post_webhook(client, zalo_app.app_id, raw, key=key, num_retry=str(n)).json()
        for n in range(3)
    ]
    assert [a["duplicate"] for a in answers] == [False, True, True]
    assert ZaloEvent.objects.count() == 1


def test_management_events_without_msg_id_are_deduplicated_by_body(client, zalo_app, key):
    raw = fixture("change_template_status__rejected")
    post_webhook(client, zalo_app.app_id, raw, key=key)
    post_webhook(client, zalo_app.app_id, raw, key=key, num_retry="1")
    assert ZaloEvent.objects.count() == 1
    assert ZaloEvent.objects.get().dedupe_key.startswith("change_template_status:sha256:")


def test_an_old_event_is_accepted_unless_a_freshness_window_is_set(client, zalo_app, key, settings):
    old = fixture("user_send_text__official")  # timestamp from 2025
    assert post_webhook(client, zalo_app.app_id, old, key=key).status_code == 200
    settings.WEBHOOK_MAX_AGE_SECONDS = 3600
    other = old.replace("96d3cdf3af150460909", "fresh-check")
    response = post_webhook(client, zalo_app.app_id, other, key=key)
    assert response.status_code == 400
    assert "older than" in RejectedRequest.objects.get().reason


@pytest.mark.parametrize(
    ("case", "status", "reason"),
    [
        ("bad_signature", 401, "signature does not match"),
        ("unsigned", 401, "no X-ZEvent-Signature"),
        ("unknown_app", 404, "unknown Zalo app"),
        ("wrong_app_in_body", 403, "not this webhook's app"),
        ("not_json", 400, "not JSON"),
        ("wrong_shape", 400, "not a JSON object"),
        ("too_big", 413, "larger than"),
    ],
)
def test_it_refuses_and_records_bad_requests(client, zalo_app, key, case, status, reason):
    raw = fixture("user_send_text__official")
    app_id, use_key = zalo_app.app_id, key
    if case == "bad_signature":
        use_key = "not-the-oa-secret"
    elif case == "unsigned":
        use_key = None
    elif case == "unknown_app":
        app_id = "1234"
    elif case == "wrong_app_in_body":
        raw = raw.replace(zalo_app.app_id, "2740017350155010002")
    elif case == "not_json":
        raw = "event_name=user_send_text&text=hi"
    elif case == "wrong_shape":
        raw = json.dumps([json.loads(raw)])
    elif case == "too_big":
        payload = json.loads(raw)
        payload["message"]["text"] = "x" * (1024 * 1024)
        raw = json.dumps(payload)
    response = post_webhook(client, app_id, raw, key=use_key)
    # It should answer 4xx, store no event, and keep the request for diagnosis.
    assert response.status_code == status
    assert reason in response.json()["error"]
    assert not ZaloEvent.objects.exists()
    rejected = RejectedRequest.objects.get()
    assert rejected.status_code == status and reason in rejected.reason
    assert rejected.body_size == len(raw.encode())
    assert len(rejected.body) <= 16 * 1024


def test_a_signed_object_without_event_name_is_kept(client, zalo_app, key):
    raw = json.dumps({"app_id": zalo_app.app_id, "timestamp": "1763800000000", "odd": True})
    assert post_webhook(client, zalo_app.app_id, raw, key=key).status_code == 200
    assert ZaloEvent.objects.get().event_name == ""


def test_a_browser_can_check_the_url(client, zalo_app):
    response = client.get(f"/zalo/webhook/{zalo_app.app_id}/")
    assert response.status_code == 200
    assert b"POST events here" in response.content


def test_a_new_oa_secret_key_takes_effect_at_once(client, zalo_app, key):
    raw = fixture("follow__official")
    assert post_webhook(client, zalo_app.app_id, raw, key=key).status_code == 200
    # It should not keep checking with a cached key once the admin saved a new one.
    zalo_app.oa_secret_key = "rotated-oa-secret"
    zalo_app.save()
    raw2 = fixture("unfollow__official")
    assert post_webhook(client, zalo_app.app_id, raw2, key=key).status_code == 401
    assert post_webhook(client, zalo_app.app_id, raw2, key="rotated-oa-secret").status_code == 200


def test_an_oa_authorized_after_its_first_event_is_found_on_the_next(client, zalo_app, key):
    from zalohub.accounts.models import OfficialAccount

    oa = OfficialAccount.objects.create(app=zalo_app, name="Support")
    raw = fixture("follow__official")
    post_webhook(client, zalo_app.app_id, raw, key=key)
    assert ZaloEvent.objects.get().oa is None
    # It should not remember that the OA was unknown (authorization sets its id).
    OfficialAccount.objects.filter(pk=oa.pk).update(oa_id="4310500000000000001")
    post_webhook(client, zalo_app.app_id, fixture("unfollow__official"), key=key)
    assert ZaloEvent.objects.get(event_name="unfollow").oa == oa


def test_requests_that_miss_the_lookup_cache_together_share_one_lookup():
    import threading

    from zalohub.events.ingestion import receive as ingest

    ingest.forget_cached_lookups()
    inside, release, calls, answers = threading.Event(), threading.Event(), [], []

    def find():
        calls.append(1)
        inside.set()
        release.wait(timeout=30)
        return 42

    def ask():
        answers.append(ingest._cached(ingest._oas, "oa-1", find))

    first = threading.Thread(target=ask)
    first.start()
    inside.wait(timeout=30)
    others = [threading.Thread(target=ask) for _ in range(4)]
    for thread in others:
        thread.start()
    release.set()
    for thread in [first, *others]:
        thread.join()
    # It should look the OA up once and give every request the answer.
    assert calls == [1]
    assert answers == [42] * 5
    ingest.forget_cached_lookups()


def test_an_expired_lookup_is_used_while_another_request_refreshes_it():
    from zalohub.events.ingestion import receive as ingest

    ingest._oas["oa-2"] = (0.0, 7)  # expired long ago
    with ingest._lookup:  # another request is looking something up
        value = ingest._cached(ingest._oas, "oa-2", lambda: pytest.fail("looked up twice"))
    assert value == 7
    # Once nobody else is looking up, it should refresh the entry.
    assert ingest._cached(ingest._oas, "oa-2", lambda: 8) == 8
    ingest.forget_cached_lookups()
