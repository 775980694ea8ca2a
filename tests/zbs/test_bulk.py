"""Bulk sends: quota checked before starting, one outcome per partner, and a stop when
Zalo's quota runs out midway (issue 6, §6)."""

import pytest

from tests.zbs.conftest import VALUES, make_partner
from zalohub.sandbox import reviewer
from zalohub.sandbox.world import OA_SUPPORT_ID
from zalohub.zbs.bulk import bulk_progress, bulk_run, bulk_start
from zalohub.zbs.models import BulkRecipient, BulkSend
from zalohub.zbs.services import TemplateActionRefused

pytestmark = pytest.mark.django_db
Outcome = BulkRecipient.Outcome


@pytest.fixture
def partners(oa):
    phones = ["0903123456", "0903123457", "0903123458"]
    return [make_partner(oa, name=f"Khách {i}", phone=p) for i, p in enumerate(phones)]


def _outcomes(bulk: BulkSend) -> list[str]:
    return list(bulk.recipients.values_list("outcome", flat=True))


def test_it_sends_to_each_partner_and_reports_each_outcome(approved, partners, sandbox, oa):
    nobody = make_partner(oa, name="Không có số")
    bulk = bulk_start(template=approved, partners=[*partners, nobody], params=VALUES, enqueue=False)
    assert bulk_run(bulk=bulk) == "done"
    # It should send to everyone reachable and say why the last one was not.
    assert _outcomes(bulk) == [Outcome.SENT, Outcome.SENT, Outcome.SENT, Outcome.FAILED]
    last = bulk.recipients.get(partner=nobody)
    assert "no valid phone was found" in last.detail
    assert bulk_progress(bulk=bulk)["percent"] == 100
    with sandbox.lock:
        assert len(sandbox.zns.all_sends(OA_SUPPORT_ID)) == 3


def test_it_checks_the_quota_before_starting(approved, partners, sandbox):
    reviewer.set_daily_quota(sandbox, oa_id=OA_SUPPORT_ID, remaining=2)
    # It should refuse the whole list up front, saying how much is left.
    with pytest.raises(TemplateActionRefused, match="only 2 sends are left"):
        bulk_start(template=approved, partners=partners, params=VALUES, enqueue=False)
    assert not BulkSend.objects.exists()


def test_it_stops_when_the_quota_runs_out_midway(approved, partners, sandbox):
    bulk = bulk_start(template=approved, partners=partners, params=VALUES, enqueue=False)
    # Other sends used the quota between the check and the run.
    reviewer.set_daily_quota(sandbox, oa_id=OA_SUPPORT_ID, remaining=1)
    assert bulk_run(bulk=bulk) == "stopped"
    bulk.refresh_from_db()
    # It should send one, fail the one Zalo refused and not try the rest.
    assert _outcomes(bulk) == [Outcome.SENT, Outcome.FAILED, Outcome.SKIPPED]
    assert bulk.status == BulkSend.Status.STOPPED and "-144" in bulk.stop_reason
    assert sandbox.call_count("zns.message.template") == 2
    # It should not send anything twice when the run is repeated.
    bulk_run(bulk=bulk)
    assert sandbox.call_count("zns.message.template") == 2
