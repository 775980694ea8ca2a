"""Idempotency-Key: a repeat with the same body gets the first answer and does nothing
more; another body under the same key is 409; concurrent repeats on PostgreSQL send
exactly once."""

import threading

import pytest
from django.db import connection, connections

from tests.api.conftest import SON, send_due, sends_stored
from zalohub.api.models import IdempotentRequest
from zalohub.events.models import Message, ZaloEvent

SEND = {"to": {"user_id": SON}, "text": "Hóa đơn HD-77 đã sẵn sàng"}


@pytest.mark.django_db
def test_a_repeat_gets_the_first_answer_and_sends_nothing_more(api, oa, son):
    body = {"oa": oa.pk, **SEND}
    first = api.post("/messages", body, headers={"Idempotency-Key": "order-77"})
    again = api.post("/messages", body, headers={"Idempotency-Key": "order-77"})
    assert first[0] == again[0] == 202
    assert first[1] == again[1]
    assert again[2]["Idempotent-Replayed"] == "true"
    assert sends_stored() == 1
    other = api.post("/messages", {**body, "text": "khác"}, headers={"Idempotency-Key": "order-77"})
    assert (other[0], other[1]["code"]) == (409, "idempotency_key_reused")
    # Without a key, or with a new one, it is a new send.
    assert api.post("/messages", body)[0] == 202
    assert api.post("/messages", body, headers={"Idempotency-Key": "order-78"})[0] == 202
    assert sends_stored() == 3
    # Once a worker has made the messages, a repeat still gets the first answer.
    send_due()
    assert Message.objects.filter(text=SEND["text"]).count() == 3
    late = api.post("/messages", body, headers={"Idempotency-Key": "order-77"})
    assert (late[0], late[1]) == (202, first[1])


@pytest.mark.django_db
def test_a_refusal_is_kept_as_the_first_answer_too(api, oa):
    body = {"oa": oa.pk, "to": {"user_id": SON}, "kind": "file"}
    first = api.post("/messages", body, headers={"Idempotency-Key": "k1"})
    again = api.post("/messages", body, headers={"Idempotency-Key": "k1"})
    assert first[0] == again[0] == 422 and first[1] == again[1]
    assert again[2]["Content-Type"] == "application/problem+json"


@pytest.mark.django_db
def test_keys_are_per_api_key_and_bounded(make_key, oa, son):
    _, one = make_key()
    _, two = make_key()
    body = {"oa": oa.pk, **SEND}
    assert one.post("/messages", body, headers={"Idempotency-Key": "same"})[0] == 202
    assert two.post("/messages", body, headers={"Idempotency-Key": "same"})[0] == 202
    status, problem, _ = one.post("/messages", body, headers={"Idempotency-Key": "x" * 256})
    assert (status, problem["code"]) == (400, "invalid_idempotency_key")


@pytest.mark.django_db(transaction=True)
def test_concurrent_repeats_send_once(make_key, oa, son):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions are PostgreSQL's (SQLite has one writer)")
    _, api = make_key()
    body = {"oa": oa.pk, **SEND}
    answers: list[tuple[int, dict]] = []
    start = threading.Barrier(8)

    def repeat() -> None:
        try:
            start.wait()
            status, answer, _ = api.__class__(api.raw).post(
                "/messages", body, headers={"Idempotency-Key": "race-1"}
            )
            answers.append((status, answer))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=repeat) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(answers) == 8
    assert {status for status, _ in answers} == {202}
    assert len({a["event_id"] for _, a in answers}) == 1
    # One row keeps the key: the send's own event (its dedupe key), nothing else.
    assert sends_stored() == 1
    assert ZaloEvent.objects.filter(dedupe_key__startswith="idem:").count() == 1
    assert not IdempotentRequest.objects.filter(idempotency_key="race-1").exists()
    send_due()
    assert Message.objects.filter(text=SEND["text"]).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_upserts_of_one_new_reference_make_one_partner(make_key):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions are PostgreSQL's (SQLite has one writer)")
    from zalohub.partners.models import Partner

    _, api = make_key()
    statuses: list[int] = []
    start = threading.Barrier(6)

    def upsert(n: int) -> None:
        try:
            start.wait()
            body = {"system": "erp", "reference": "C-9", "phones": [f"091234567{n}"]}
            statuses.append(api.__class__(api.raw).post("/partners/upsert", body)[0])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=upsert, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(statuses) == [200] * 5 + [201]
    (partner,) = Partner.objects.all()
    assert partner.phones.count() == 6


def _deadlock():
    """What Django raises when PostgreSQL ends a transaction caught in a deadlock."""
    import psycopg.errors
    from django.db import OperationalError

    try:
        raise psycopg.errors.DeadlockDetected("deadlock detected")
    except psycopg.errors.DeadlockDetected as exc:
        raise OperationalError("deadlock detected") from exc


@pytest.mark.django_db
def test_a_first_that_postgresql_ended_in_a_deadlock_is_tried_once_more(make_key):
    from django.db import OperationalError
    from django.test import RequestFactory
    from pydantic import BaseModel

    from zalohub.api.idempotency import idempotent

    class Done(BaseModel):
        n: int

    key, _api = make_key()
    request = RequestFactory().post("/api/v1/messages", {"a": 1}, content_type="application/json")
    calls: list[int] = []

    def work(fail: int):
        def handler():
            calls.append(1)
            if len(calls) <= fail:
                _deadlock()  # after the key's row was written: all of it rolls back
            return 202, Done(n=len(calls))

        return handler

    # It should try once more after a deadlock (a batch of sends writes its keys' rows
    # after its messages' conversations: api.accept), and keep that answer.
    response = idempotent(request, key=key, idempotency_key="dl-1", handler=work(1))
    assert (response.status_code, response.content) == (202, b'{"n": 2}')
    kept = IdempotentRequest.objects.get(key=key, idempotency_key="dl-1")
    assert (kept.status_code, kept.response_body) == (202, '{"n": 2}')
    # It should try no more than twice, and leave any other database error alone.
    calls.clear()
    with pytest.raises(OperationalError):
        idempotent(request, key=key, idempotency_key="dl-2", handler=work(2))
    assert len(calls) == 2 and not IdempotentRequest.objects.filter(idempotency_key="dl-2")

    def broken():
        raise OperationalError("server closed the connection")

    with pytest.raises(OperationalError):
        idempotent(request, key=key, idempotency_key="dl-3", handler=broken)
