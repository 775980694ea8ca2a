"""Webhook subscriptions through the API: a key subscribes a loopback URL to events of
its OAs, reads, changes and deletes it; other OAs' and every-OA subscriptions are not
the key's (404); a refused URL or event type is a 422 problem."""

import pytest

from zalohub.api.models import Capability
from zalohub.webhooks.models import Subscription
from zalohub.webhooks.services import subscription_create

pytestmark = pytest.mark.django_db
URL = "http://127.0.0.1:9/erp/hooks"


def test_subscribe_read_change_delete(api, oa):
    status, created, _ = api.post(
        "/webhooks/subscriptions",
        {"name": "ERP", "url": URL, "event_types": ["message.received"]},
        headers={"Idempotency-Key": "sub-1"},
    )
    assert status == 201, created
    assert created["oa_ids"] == [oa.pk] and created["secret"].startswith("whsec_")
    row = Subscription.objects.get(pk=created["id"])
    assert row.url == URL and row.event_types == ["message.received"]
    status, read, _ = api.get(f"/webhooks/subscriptions/{row.pk}")
    assert status == 200 and "secret" not in read
    assert [s["id"] for s in api.get("/webhooks/subscriptions")[1]["items"]] == [row.pk]
    r = api.client.patch(
        f"/api/v1/webhooks/subscriptions/{row.pk}",
        '{"active": false, "event_types": []}',
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.raw}"},
    )
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["event_types"] == []
    r = api.client.delete(
        f"/api/v1/webhooks/subscriptions/{row.pk}",
        headers={"Authorization": f"Bearer {api.raw}"},
    )
    assert r.status_code == 204
    assert not Subscription.objects.filter(pk=row.pk).exists()


def test_other_oas_and_every_oa_subscriptions_are_not_the_keys(make_key, oa, sales):
    theirs = subscription_create(name="Sales ERP", url=URL, oa_ids=[sales.pk])
    everyone = subscription_create(name="All", url=URL)
    both = subscription_create(name="Both", url=URL, oa_ids=[oa.pk, sales.pk])
    _, api = make_key(oas=[oa])
    assert api.get("/webhooks/subscriptions")[1]["items"] == []
    for row in (theirs, everyone, both):
        assert api.get(f"/webhooks/subscriptions/{row.pk}")[0] == 404
    status, problem, _ = api.post(
        "/webhooks/subscriptions", {"name": "x", "url": URL, "oa_ids": [sales.pk]}
    )
    assert (status, problem["code"]) == (404, "not_found")


def test_refusals(make_key, oa):
    _, api = make_key()
    status, problem, _ = api.post(
        "/webhooks/subscriptions", {"name": "x", "url": URL, "event_types": ["nope.event"]}
    )
    assert (status, problem["code"]) == (422, "invalid_subscription")
    status, problem, _ = api.post("/webhooks/subscriptions", {"name": "x", "url": "ftp://a/b"})
    assert (status, problem["code"]) == (422, "invalid_request")
    _, reader = make_key(caps=[Capability.READ_CONVERSATIONS])
    assert reader.get("/webhooks/subscriptions")[0] == 403
