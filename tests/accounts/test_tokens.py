"""Token custody: refresh before expiry, one refresher at a time, failures that say why."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from zalohub.accounts.models import OfficialAccount
from zalohub.accounts.tokens import (
    TokenUnavailable,
    call_with_token,
    mark_expired_tokens,
    oa_refresh_token,
    oa_sync_profile,
)
from zalohub.core.models import PeriodicJob
from zalohub.core.worker import WorkerProcess
from zalohub.zalo import get_client

Status = OfficialAccount.Status


def _expire_soon(oa: OfficialAccount, minutes: int = 30) -> None:
    OfficialAccount.objects.filter(pk=oa.pk).update(
        token_expires_at=timezone.now() + timedelta(minutes=minutes)
    )
    oa.refresh_from_db()


@pytest.mark.django_db
def test_it_refreshes_and_rotates_the_refresh_token(connected_oa, sandbox):
    old_access, old_refresh = connected_oa.access_token, connected_oa.refresh_token
    _expire_soon(connected_oa)
    outcome = oa_refresh_token(oa=connected_oa)
    oa = outcome.oa
    # It should store the new pair and a fresh 25-hour expiry.
    assert outcome.refreshed
    assert oa.access_token != old_access and oa.refresh_token != old_refresh
    assert oa.token_expires_at > timezone.now() + timedelta(hours=24)
    assert oa.status == Status.CONNECTED and oa.last_refreshed_at
    # It should not refresh again while the token is fresh.
    assert oa_refresh_token(oa=oa).refreshed is False
    assert sandbox.call_count("oauth.access_token") == 2  # the code exchange + one refresh


@pytest.mark.django_db(transaction=True)
def test_two_workers_refreshing_at_once_make_one_call(connected_oa, sandbox):
    _expire_soon(connected_oa)
    before = sandbox.call_count("oauth.access_token")
    barrier = threading.Barrier(2)
    results: list = []

    def worker() -> None:
        try:
            oa = OfficialAccount.objects.select_related("app").get(pk=connected_oa.pk)
            barrier.wait()
            results.append(oa_refresh_token(oa=oa))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # It should call Zalo once, and both workers should end with the same valid token.
    assert sandbox.call_count("oauth.access_token") - before == 1
    assert sorted(r.refreshed for r in results) == [False, True]
    assert results[0].oa.access_token == results[1].oa.access_token
    oa = OfficialAccount.objects.get(pk=connected_oa.pk)
    assert oa.status == Status.CONNECTED and oa.refresh_claim == ""
    profile = get_client().oa.get_oa_profile(access_token=oa.access_token)
    assert profile.oa_id == oa.oa_id


@pytest.mark.django_db
def test_a_rejected_refresh_token_puts_the_oa_in_error(connected_oa, sandbox):
    sandbox.add_fault(
        "oauth.access_token", "zalo_error", code=-14014, message="Invalid refresh token."
    )
    outcome = oa_refresh_token(oa=connected_oa, force=True)
    assert outcome.error and "-14014" in outcome.error
    oa = outcome.oa
    assert oa.status == Status.ERROR
    assert "Authorize the account again" in oa.last_error
    # It should keep the tokens it had (nothing is deleted on a failure).
    assert oa.refresh_token == connected_oa.refresh_token


@pytest.mark.django_db
def test_zalo_down_during_refresh_keeps_the_oa_and_retries_later(connected_oa, sandbox):
    _expire_soon(connected_oa)
    sandbox.add_fault("oauth.access_token", "http_503")
    outcome = oa_refresh_token(oa=connected_oa)
    # It should keep a still-valid token Connected and say the refresh will be retried.
    assert outcome.oa.status == Status.CONNECTED
    assert "will retry" in outcome.oa.last_refresh_error
    assert outcome.oa.refresh_token == connected_oa.refresh_token
    # It should mark an already expired token Expired, with the same reason.
    _expire_soon(connected_oa, minutes=-1)
    outcome = oa_refresh_token(oa=connected_oa)
    assert outcome.oa.status == Status.EXPIRED
    # It should recover on the next attempt once Zalo is back.
    sandbox.clear_faults()
    outcome = oa_refresh_token(oa=outcome.oa)
    assert outcome.refreshed and outcome.oa.status == Status.CONNECTED


@pytest.mark.django_db
def test_an_expired_refresh_token_is_not_sent(connected_oa, sandbox):
    OfficialAccount.objects.filter(pk=connected_oa.pk).update(
        refresh_token_expires_at=timezone.now() - timedelta(days=1)
    )
    connected_oa.refresh_from_db()
    before = sandbox.call_count("oauth.access_token")
    outcome = oa_refresh_token(oa=connected_oa, force=True)
    assert outcome.oa.status == Status.EXPIRED
    assert "refresh token expired" in outcome.oa.last_error
    assert sandbox.call_count("oauth.access_token") == before


@pytest.mark.django_db
def test_an_auth_error_refreshes_once_and_retries_once(connected_oa, sandbox):
    sandbox.add_fault(
        "oa.getoa", "zalo_error", code=-216, message="Access token is invalid", times=1
    )
    before = sandbox.call_count("oauth.access_token")
    oa = oa_sync_profile(oa=connected_oa)
    assert oa.profile_synced_at
    assert sandbox.call_count("oauth.access_token") - before == 1
    # It should give up after one refresh when Zalo keeps refusing.
    sandbox.add_fault("oa.getoa", "zalo_error", code=-216, message="Access token is invalid")
    with pytest.raises(Exception, match="-216"):
        call_with_token(oa, lambda t: get_client().oa.get_oa_profile(access_token=t))


@pytest.mark.django_db
def test_a_disconnected_oa_has_no_token(connected_oa):
    OfficialAccount.objects.filter(pk=connected_oa.pk).update(
        status=Status.ERROR, last_error="boom"
    )
    connected_oa.refresh_from_db()
    with pytest.raises(TokenUnavailable, match="boom"):
        call_with_token(connected_oa, lambda t: t)


@pytest.mark.django_db(transaction=True)
def test_the_worker_refreshes_tokens_before_they_expire(connected_oa, sandbox):
    _expire_soon(connected_oa)
    process = WorkerProcess(threads=1, poll_seconds=0.05, worker_id="test-worker")
    process.start()
    try:
        # It should run the periodic job, queue one refresh, and run it in a task thread.
        deadline = time.monotonic() + 60
        oa = connected_oa
        while time.monotonic() < deadline:
            oa = OfficialAccount.objects.get(pk=connected_oa.pk)
            if oa.token_expires_at > timezone.now() + timedelta(hours=24):
                break
            time.sleep(0.05)
    finally:
        process.stop()
    assert oa.token_expires_at > timezone.now() + timedelta(hours=24)
    assert DBTaskResult.objects.filter(task_path__endswith="refresh_oa_token").count() == 1
    assert PeriodicJob.objects.get(name="accounts.refresh_tokens").last_finished_at


@pytest.mark.django_db
def test_it_marks_tokens_that_ran_out_expired(connected_oa):
    OfficialAccount.objects.filter(pk=connected_oa.pk).update(
        token_expires_at=timezone.now() - timedelta(minutes=1), refresh_token=""
    )
    assert mark_expired_tokens() == 1
    oa = OfficialAccount.objects.get(pk=connected_oa.pk)
    assert oa.status == Status.EXPIRED and not oa.token_valid
