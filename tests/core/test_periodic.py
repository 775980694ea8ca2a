import pytest
from django.utils import timezone

from zalohub.core import periodic
from zalohub.core.models import PeriodicJob

pytestmark = pytest.mark.django_db


def test_it_runs_a_due_job_once_across_workers():
    ran = []
    job = periodic.Job(
        name="test.job", every=timezone.timedelta(minutes=1), func=lambda: ran.append(1)
    )
    # It should let the first worker run the job and the second see it is not due.
    assert periodic.run_job(job, "worker-1") is True
    assert periodic.run_job(job, "worker-2") is False
    assert ran == [1]
    row = PeriodicJob.objects.get(name="test.job")
    assert row.claimed_by == ""
    assert row.next_run_at > timezone.now()


def test_it_does_not_run_a_job_another_worker_holds():
    job = periodic.Job(name="test.held", every=timezone.timedelta(seconds=1), func=lambda: None)
    now = timezone.now()
    PeriodicJob.objects.create(
        name="test.held",
        next_run_at=now,
        claimed_by="other",
        claimed_until=now + timezone.timedelta(minutes=5),
    )
    assert periodic.run_job(job, "worker-1") is False


def test_it_records_a_failing_job_and_schedules_it_again():
    def boom() -> None:
        raise RuntimeError("database went away")

    job = periodic.Job(name="test.boom", every=timezone.timedelta(seconds=30), func=boom)
    assert periodic.run_job(job, "worker-1") is True
    row = PeriodicJob.objects.get(name="test.boom")
    assert "database went away" in row.last_error
    assert row.claimed_until is None
