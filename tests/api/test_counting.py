"""Authentication comes before the rate limit, and every authenticated request counts.

A revoked or unknown key is answered 401 (problem+json), never 429, and spends nothing of
any key's budget, also on the sends' path that finds the key in the process's memory and
counts it in a batch (``zalohub.api.accept``). A request refused for its body (422, or 400
when it is no JSON) is counted like any other: past the limit it is 429 with Retry-After."""

from collections.abc import Iterator

import pytest
from django.db import transaction
from django.db.models import Sum
from django.test import override_settings

from tests.api.conftest import SON, sends_stored
from tests.helpers import clear_of_the_minutes_end
from zalohub.accounts import ratelimit as window_counter
from zalohub.api import accept, ratelimit
from zalohub.api.models import ApiKey, ApiRateWindow

pytestmark = pytest.mark.django_db
TEXT = "Đơn DH-31 đã xuất kho"
REDIS = "redis://127.0.0.1:6379/4"


@pytest.fixture(params=["database", "redis"])
def store(request, settings) -> Iterator[str]:
    """The rate limit's counts in the database, then in Redis."""
    if request.param == "database":
        settings.REDIS_URL = ""
        yield "database"
        return
    with override_settings(REDIS_URL=REDIS):
        window_counter._redis.cache_clear()
        window_counter._redis().flushdb()
        try:
            yield "redis"
        finally:
            window_counter._redis.cache_clear()


def _spent(key: ApiKey, store: str) -> int:
    """Every request counted against the key, whatever the minute."""
    if store == "redis":
        r = window_counter._redis()
        names = r.keys(f"{ratelimit.REQUESTS.redis_prefix}:{key.pk}:*")
        return sum(int(r.get(name) or 0) for name in names)
    total = ApiRateWindow.objects.filter(key=key).aggregate(n=Sum("count"))["n"]
    return total or 0


def _revoked_elsewhere(key: ApiKey) -> None:
    # Another process revokes it: this one's memory of the key is not told.
    ApiKey.objects.filter(pk=key.pk).update(revoked_at="2026-01-01T00:00:00Z")


def _is_401(answer) -> None:
    status, problem, response = answer
    assert (status, problem["code"]) == (401, "unauthenticated")
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"] == "Bearer"
    assert "Retry-After" not in response


def test_a_revoked_key_past_its_limit_is_401_not_429(make_key, oa, store):
    clear_of_the_minutes_end()
    key, api = make_key(rate=2)
    body = {"oa": oa.pk, "to": {"user_id": SON}, "text": TEXT}
    assert [api.post("/messages", body)[0] for _ in range(2)] == [202, 202]
    assert _spent(key, store) == 2
    _revoked_elsewhere(key)
    # It should be told it is not authenticated, however often it asks, and spend nothing.
    for _ in range(3):
        _is_401(api.post("/messages", body))
    _is_401(api.post("/messages", {"oa": oa.pk}))  # a bad body too: who calls comes first
    _is_401(api.get("/oas"))
    assert _spent(key, store) == 2
    assert sends_stored() == 2


def test_a_revoked_key_within_its_limit_spends_nothing(make_key, oa, store):
    clear_of_the_minutes_end()
    key, api = make_key(rate=5)
    body = {"oa": oa.pk, "to": {"user_id": SON}, "text": TEXT}
    assert api.post("/messages", body)[0] == 202
    _revoked_elsewhere(key)
    _is_401(api.post("/messages", body))
    assert _spent(key, store) == 1


def test_an_unknown_key_is_401_and_spends_no_budget(make_key, oa, store):
    key, _api = make_key(rate=5)
    stranger = type(_api)("zh_" + "x" * 43)
    _is_401(stranger.post("/messages", {"oa": oa.pk, "to": {"user_id": SON}, "text": TEXT}))
    _is_401(stranger.post("/messages", {"oa": oa.pk}))
    _is_401(stranger.get("/oas"))
    assert _spent(key, store) == 0


def test_a_batch_counts_no_send_of_a_revoked_key(make_key, oa, son, settings):
    settings.REDIS_URL = ""
    key, _ = make_key(rate=10)
    revoked, _ = make_key(rate=10)
    _revoked_elsewhere(revoked)
    sends = [
        accept.Send(
            key=k,
            oa_id=oa.pk,
            user_id=SON,
            kind="text",
            text=TEXT,
            attachment=None,
            confirm_unverified=False,
            idempotency_key="",
            digest="",
            request_id="req-1",
        )
        for k in (key, revoked, revoked)
    ]
    with transaction.atomic():
        outcomes = accept._store(sends)
    # It should store the active key's send, leave the revoked ones, not counted, to
    # their request (which answers 401) and count only the active key's.
    assert isinstance(outcomes[0], tuple) and outcomes[0][0] == 202
    assert outcomes[1:] == [accept.FAILED, accept.FAILED]
    assert (_spent(key, "database"), _spent(revoked, "database")) == (1, 0)


@pytest.mark.parametrize("path", ["/messages", "/partners/upsert"])
def test_bad_bodies_count_against_the_limit(make_key, oa, store, path):
    clear_of_the_minutes_end()
    key, api = make_key(rate=3)
    bad = {"oa": oa.pk} if path == "/messages" else {"name": "no reference"}
    assert [api.post(path, bad)[0] for _ in range(2)] == [422, 422]
    # Not even JSON: 400, counted the same.
    r = api.client.post(
        "/api/v1" + path,
        "{not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.raw}"},
    )
    assert r.status_code == 400
    assert _spent(key, store) == 3
    # It should be held to the limit like any other client: 429 with Retry-After.
    for body in (bad, {"oa": oa.pk, "to": {"user_id": SON}, "text": TEXT}):
        status, problem, response = api.post(path, body)
        assert (status, problem["code"]) == (429, "rate_limited")
        assert 1 <= int(response["Retry-After"]) <= 60
    assert sends_stored() == 0
