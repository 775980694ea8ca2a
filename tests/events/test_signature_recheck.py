"""A new OA secret key saved in another process, without Redis to announce it: a web
process that still remembers the old key reads the app again when a signature does not
match it, so the new key is accepted at once (issue 18, item 11); and it does so at most
every WEBHOOK_SIGNATURE_RECHECK_SECONDS, so forged requests do not each cost a query.

Another process's save is a queryset ``update`` here (this process's signals do not see
it), and, in the last test, a save by the test's process seen by two `zalohub serve`
processes on the same database."""

from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.core.serveproc import ServeProc, send_webhook
from tests.helpers import fixture, post_webhook
from zalohub.accounts.models import ZaloApp
from zalohub.events.ingestion.receive import forget_cached_lookups
from zalohub.events.models import ZaloEvent

NEW_KEY = "a-key-saved-in-another-process"


@pytest.fixture
def cached_app(client, zalo_app, settings):
    """The app, remembered by this process (with its old key) for longer than any test."""
    settings.WEBHOOK_LOOKUP_CACHE_SECONDS = 300
    forget_cached_lookups()
    raw = fixture("follow__official")
    assert post_webhook(client, zalo_app.app_id, raw, key=zalo_app.oa_secret_key).status_code == 200
    yield zalo_app
    forget_cached_lookups()


def _app_queries(queries) -> list[str]:
    table = ZaloApp._meta.db_table
    return [q["sql"] for q in queries if table in q["sql"] and "SELECT" in q["sql"].upper()]


@pytest.mark.django_db
def test_a_key_saved_in_another_process_is_accepted_at_once(client, cached_app, settings):
    settings.WEBHOOK_SIGNATURE_RECHECK_SECONDS = 0
    old = cached_app.oa_secret_key
    ZaloApp.objects.filter(pk=cached_app.pk).update(oa_secret_key=NEW_KEY)
    # It should read the app again and accept the new key, though its entry has 300 s left.
    response = post_webhook(client, cached_app.app_id, fixture("unfollow__official"), key=NEW_KEY)
    assert response.status_code == 200, response.content
    assert ZaloEvent.objects.filter(event_name="unfollow").exists()
    # ...and, having read the new key, refuse the old one.
    raw = fixture("user_send_text__official")
    assert post_webhook(client, cached_app.app_id, raw, key=old).status_code == 401


@pytest.mark.django_db
def test_an_app_read_moments_ago_is_not_read_again_for_each_bad_signature(
    client, cached_app, settings
):
    settings.WEBHOOK_SIGNATURE_RECHECK_SECONDS = 300
    ZaloApp.objects.filter(pk=cached_app.pk).update(oa_secret_key=NEW_KEY)
    raw = fixture("unfollow__official")
    # It should not query the app for a signature that fails within the period after it
    # read the app: forged requests, or a key changed elsewhere that moment (refused, and
    # Zalo delivers it again).
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            response = post_webhook(client, cached_app.app_id, raw, key=NEW_KEY)
            assert response.status_code == 401
    assert _app_queries(queries) == []
    # Once the period is over, one bad signature reads it again, and the next ones do not.
    settings.WEBHOOK_SIGNATURE_RECHECK_SECONDS = 0
    with CaptureQueriesContext(connection) as queries:
        assert post_webhook(client, cached_app.app_id, raw, key="forged").status_code == 401
    assert len(_app_queries(queries)) == 1
    settings.WEBHOOK_SIGNATURE_RECHECK_SECONDS = 300
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert post_webhook(client, cached_app.app_id, raw, key="forged").status_code == 401
    assert _app_queries(queries) == []
    # The read found the new key.
    assert post_webhook(client, cached_app.app_id, raw, key=NEW_KEY).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_two_web_processes_without_redis_accept_a_new_key_at_once(
    zalo_app, connected_oa, settings, tmp_path
):
    env = {
        "ZALOHUB_REDIS_URL": "",  # nobody announces the change
        "ZALOHUB_WEBHOOK_LOOKUP_CACHE_SECONDS": "300",  # longer than the test
        "ZALOHUB_WEBHOOK_SIGNATURE_RECHECK_SECONDS": "0",
    }
    settings.REDIS_URL = ""
    old = SimpleNamespace(app_id=zalo_app.app_id, oa_secret_key=zalo_app.oa_secret_key)
    new = SimpleNamespace(app_id=zalo_app.app_id, oa_secret_key=NEW_KEY)
    servers = [ServeProc(tmp_path, threads=2, extra_env=env) for _ in range(2)]
    try:
        # Both processes have the app, and its old key, in their lookup caches.
        assert [send_webhook(s.port, old, n) for n, s in enumerate(servers)] == [200, 200]
        zalo_app.oa_secret_key = NEW_KEY
        zalo_app.save()  # an admin, in a third process
        # It should accept the new key in both processes at once, then refuse the old.
        assert [send_webhook(s.port, new, 10 + n) for n, s in enumerate(servers)] == [200, 200]
        assert [send_webhook(s.port, old, 20 + n) for n, s in enumerate(servers)] == [401, 401]
    finally:
        for server in servers:
            server.terminate()
        codes = [server.wait() for server in servers]
    assert codes == [0, 0], [server.output() for server in servers]
