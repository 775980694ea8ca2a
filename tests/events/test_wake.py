"""Ingest wakes the workers waiting for work (events.wake): an event is handled at once,
not at the end of the worker's poll. Each test makes the poll a minute long, longer than
any wait below, so only the wake-up can get the event handled in time."""

import threading
import time

import pytest
import redis
from django.db import connection
from django.test import Client

from tests.core.serveproc import text_event
from tests.events.workerproc import Worker, wait_until
from tests.helpers import post_webhook
from zalohub.core import wakeups
from zalohub.events import tasks
from zalohub.events.models import ProcessingState, ZaloEvent

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_URL = "redis://127.0.0.1:6379/0"
POLL = 60.0  # seconds: the worker's poll in these tests


def _handled(n: int) -> bool:
    return ZaloEvent.objects.filter(
        dedupe_key=f"user_send_text:m-{n}", processing_state=ProcessingState.PROCESSED
    ).exists()


def _post(app, n: int) -> None:
    response = post_webhook(Client(), app.app_id, text_event(n), key=app.oa_secret_key)
    assert response.status_code == 200


def test_a_waiting_dispatcher_handles_a_new_event_at_once(zalo_app, connected_oa, settings):
    settings.WORKER_POLL_SECONDS = POLL
    settings.REDIS_URL = ""
    wakeups.reset()
    stop = threading.Event()

    def run() -> None:
        try:
            tasks.dispatcher("wake-test", stop)
        finally:
            connection.close()  # this thread's own

    loop = threading.Thread(target=run)
    loop.start()
    try:
        _post(zalo_app, 1)
        assert wait_until(lambda: _handled(1), timeout=30)
        time.sleep(0.5)  # the queue is empty: the dispatcher waits (its poll: a minute)
        # It should handle the next event as soon as ingest commits it.
        _post(zalo_app, 2)
        assert wait_until(lambda: _handled(2), timeout=30)
    finally:
        stop.set()
        wakeups.notifier(settings.EVENTS_REDIS_CHANNEL).notify(0)  # end its wait
        loop.join(timeout=10)
        wakeups.reset()
    assert not loop.is_alive()


def test_ingest_wakes_a_worker_in_another_process_over_redis(
    zalo_app, connected_oa, settings, tmp_path
):
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    channel = f"zalohub:events:test:{time.monotonic_ns()}"
    settings.REDIS_URL, settings.EVENTS_REDIS_CHANNEL = REDIS_URL, channel
    wakeups.reset()
    env = {
        "ZALOHUB_REDIS_URL": REDIS_URL,
        "ZALOHUB_EVENTS_REDIS_CHANNEL": channel,
        "ZALOHUB_WORKER_POLL_SECONDS": str(POLL),
    }
    worker = Worker(tmp_path, "wake", scheduler=False, extra_env=env)
    try:
        _post(zalo_app, 1)
        # (Its first claim, at its start, may find this one without a wake-up.)
        assert wait_until(lambda: _handled(1), timeout=60), worker.output()
        time.sleep(0.5)  # the queue is empty: the worker waits (its poll: a minute)
        # It should handle the next event as soon as this process's ingest commits it.
        _post(zalo_app, 2)
        assert wait_until(lambda: _handled(2), timeout=30), worker.output()
    finally:
        worker.stop_quietly()
        wakeups.reset()
