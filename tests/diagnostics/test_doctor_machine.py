"""`zalohub doctor`'s machine side: the event queue, the periodic jobs, the data disk."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from tests.helpers import fixture, post_webhook
from zalohub.core import periodic
from zalohub.core.models import PeriodicJob
from zalohub.events.models import ZaloEvent

pytestmark = pytest.mark.django_db


def _doctor(*args: str) -> str:
    out = StringIO()
    call_command("doctor", *args, stdout=out)
    return out.getvalue()


def test_it_reports_the_queue_the_periodic_jobs_and_the_disk(client, zalo_app, connected_oa):
    raw = fixture("user_send_text__official")
    assert post_webhook(client, zalo_app.app_id, raw, key=zalo_app.oa_secret_key).status_code == 200
    # The event arrived two hours ago and has been due for one: no worker took it.
    now = timezone.now()
    ZaloEvent.objects.update(
        received_at=now - timedelta(hours=2), next_attempt_at=now - timedelta(hours=1)
    )
    assert periodic.run_job(periodic.JOBS["apilog.retention"], "doctor-test")
    PeriodicJob.objects.filter(name="apilog.retention").update(next_run_at=now - timedelta(days=1))
    machine = json.loads(_doctor("--json"))["machine"]
    # It should count the waiting event and say how old and how late it is.
    queue = machine["queue"]
    assert queue["events"] == {"received": 1, "queued": 0, "processing": 0}
    assert queue["oldest_pending_age_seconds"] >= 2 * 3600
    assert queue["processing_lag_seconds"] >= 3600
    # It should give each periodic job's last run and how overdue it is.
    (job,) = [j for j in machine["periodic_jobs"] if j["name"] == "apilog.retention"]
    assert job["last_finished_at"] and not job["failed"]
    assert job["overdue_seconds"] >= 86400
    # It should give the data directory's free space on SQLite (PostgreSQL keeps its own).
    if connection.vendor == "sqlite":
        assert 0 < machine["data_disk"]["free_bytes"] <= machine["data_disk"]["total_bytes"]
    else:
        assert machine["data_disk"] is None
    # It should say the same in the text report.
    text = _doctor()
    assert "Events waiting: 1 received, 0 queued, 0 processing." in text
    assert "Periodic job apilog.retention: last finished" in text


def test_it_says_when_no_periodic_job_has_run(db):
    machine = json.loads(_doctor("--json"))["machine"]
    assert machine["periodic_jobs"] == []
    assert machine["queue"]["oldest_pending_age_seconds"] == 0
    # It should point at the workers.
    assert "No periodic job has run yet: is a worker running?" in _doctor()
