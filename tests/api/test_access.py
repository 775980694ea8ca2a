"""Keys: hashed, scoped to OAs (another OA's rows answer 404) and to capabilities (403),
revocable, rate limited per key (429 with Retry-After) in the database or in Redis;
every error is problem+json with a stable code."""

import hashlib

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from tests.api.conftest import SON, send_due
from tests.helpers import clear_of_the_minutes_end
from zalohub.accounts import ratelimit as window_counter
from zalohub.api import ratelimit
from zalohub.api.keys import key_revoke
from zalohub.api.models import ApiKey, Capability
from zalohub.events.outbound.oa_message import message_send
from zalohub.inbox.models import Conversation

pytestmark = pytest.mark.django_db


def test_only_the_keys_hash_is_kept_and_its_use_is_noted(make_key):
    key, api = make_key()
    assert key.key_hash == hashlib.sha256(api.raw.encode()).hexdigest()
    assert api.raw not in str(ApiKey.objects.filter(pk=key.pk).values().get())
    status, _body, _ = api.get("/oas")
    assert status == 200
    key.refresh_from_db()
    assert key.last_used_ip == "127.0.0.1"
    assert (timezone.now() - key.last_used_at).total_seconds() < 60


@pytest.mark.parametrize("header", [None, "Bearer zh_not-a-key", "Basic abc", "Bearer "])
def test_no_valid_key_is_401_problem(header, oa):
    headers = {"Authorization": header} if header else {}
    r = Client().get("/api/v1/oas", headers=headers)
    assert r.status_code == 401
    assert r["Content-Type"] == "application/problem+json"
    assert r["WWW-Authenticate"] == "Bearer"
    body = r.json()
    assert body["code"] == "unauthenticated" and body["status"] == 401
    assert body["type"] == "urn:zalohub:problem:unauthenticated" and body["title"]


def test_a_revoked_key_is_refused(make_key):
    key, api = make_key()
    assert api.get("/oas")[0] == 200
    assert key_revoke(key=key)
    assert api.get("/oas")[0] == 401


def test_another_oas_rows_answer_404_like_missing_ones(make_key, oa, sales, son):
    _, support_only = make_key(oas=[oa])
    _, sales_only = make_key(oas=[sales])
    message = message_send(oa=oa, user_id=SON, text="Xin chào")
    event = message.events.get()
    send_due()
    conversation = Conversation.objects.get_or_create(oa=oa, zalo_user_id=SON)[0]
    for path in (
        f"/oas/{oa.pk}",
        f"/oas/{oa.pk}/templates",
        f"/oas/{oa.pk}/quota",
        f"/events/{event.pk}",
        f"/messages/{message.pk}",
        f"/conversations/{conversation.pk}",
        f"/conversations/{conversation.pk}/messages",
    ):
        assert support_only.get(path)[0] == 200, path
        status, body, _ = sales_only.get(path)
        assert (status, body["code"]) == (404, "not_found"), path
        missing = path.replace(f"/{path.split('/')[2]}", "/999999", 1)
        assert support_only.get(missing)[1]["code"] == "not_found", missing
    assert [o["id"] for o in sales_only.get("/oas")[1]["items"]] == [sales.pk]
    assert sales_only.get("/conversations")[1]["items"] == []
    assert sales_only.get("/conversations", oa=oa.pk)[0] == 404
    assert sales_only.get(f"/partners/{son.pk}/links")[1]["items"] == []
    status, body, _ = sales_only.post(
        "/messages", {"oa": oa.pk, "to": {"user_id": SON}, "text": "x"}
    )
    assert (status, body["code"]) == (404, "not_found")
    status, _, _ = sales_only.post(f"/conversations/{conversation.pk}/read")
    assert status == 404


def test_a_capability_the_key_lacks_is_403(make_key, oa, son):
    _, reader = make_key(caps=[Capability.READ_CONVERSATIONS])
    status, body, _ = reader.post("/messages", {"oa": oa.pk, "to": {"user_id": SON}, "text": "x"})
    assert (status, body["code"]) == (403, "missing_capability")
    assert reader.get("/partners")[0] == 403
    assert reader.get(f"/oas/{oa.pk}/templates")[0] == 403
    assert reader.get("/conversations")[0] == 200
    _, sender = make_key(caps=[Capability.SEND_MESSAGES])
    assert sender.get("/conversations")[0] == 403


def _limit_reached(make_key) -> None:
    _key, api = make_key(rate=3)
    clear_of_the_minutes_end()  # the four requests fall in one minute's window
    assert [api.get("/oas")[0] for _ in range(3)] == [200, 200, 200]
    status, body, response = api.get("/oas")
    assert (status, body["code"]) == (429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60
    # The count is the key's: another key is not held up.
    assert make_key(rate=3)[1].get("/oas")[0] == 200


def test_rate_limit_in_the_database(make_key, settings):
    settings.REDIS_URL = ""
    _limit_reached(make_key)
    # Split over shares (rows) of the minute, the limit is still exact.
    assert sum(ratelimit.REQUESTS.shares(10)) == 10 and sum(ratelimit.REQUESTS.shares(3)) == 3
    key, _api = make_key(rate=10)
    now = timezone.now()  # one window for all eleven, whenever the test runs
    assert [ratelimit.take(key, now=now) for _ in range(10)] == [0.0] * 10
    assert ratelimit.take(key, now=now) > 0


def test_rate_limit_in_redis(make_key):
    with override_settings(REDIS_URL="redis://127.0.0.1:6379/4"):
        window_counter._redis.cache_clear()
        window_counter._redis().flushdb()
        try:
            _limit_reached(make_key)
        finally:
            window_counter._redis.cache_clear()


def test_health_needs_no_key():
    r = Client().get("/api/v1/health")
    assert r.status_code == 200 and r.json() == {"status": "ok", "database": "ok"}


def test_openapi_31_and_docs_from_own_static_files():
    r = Client().get("/api/v1/openapi.json")
    schema = r.json()
    assert schema["openapi"].startswith("3.1")
    answers = schema["paths"]["/api/v1/messages"]["post"]["responses"]
    assert "application/problem+json" in answers["409"]["content"]
    assert "202" in answers
    docs = Client().get("/api/v1/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in docs
    assert "cdn" not in docs.lower() and "https://" not in docs
