"""A template send's answer and the OA's quota (issue 16 §13): Zalo has answered accepted
sends with ``"sending_mode": null`` and quota strings "0" of "0"; that is no quota, and
the hub must not store it as one."""

import pytest

from tests.zbs.conftest import VALUES
from zalohub.events.models import ZaloEvent, ZaloState
from zalohub.sandbox.world import OA_SUPPORT_ID
from zalohub.zalo.zns import TemplateSend as ZnsSent
from zalohub.zalo.zns import read_send, reported_quota
from zalohub.zbs.delivery import deliver_template
from zalohub.zbs.models import ZbsSettings
from zalohub.zbs.sending import template_send
from zalohub.zbs.services import oa_settings


def _send_now(partner, template) -> None:
    send = template_send(partner=partner, template=template, params=VALUES, route_policy="phone")
    event = ZaloEvent.objects.get(message=send.message)
    assert deliver_template(event_id=event.pk, worker_id="test") == "sent"
    send.message.refresh_from_db()
    assert send.message.zalo_state == ZaloState.SENT


@pytest.mark.django_db
def test_it_stores_no_fake_quota_when_zalo_reports_none(approved, son, sandbox):
    _send_now(son, approved)
    # It should store the quota a real answer reports (the sandbox's 500, one used).
    row = ZbsSettings.objects.get(oa=approved.oa)
    assert (row.daily_quota, row.remaining_quota) == (500, 499)
    sandbox.oas[OA_SUPPORT_ID]["zns_answer_without_quota"] = True
    _send_now(son, approved)
    # It should keep the last real figures, not "0 of 0", after a null mode and "0"s.
    row.refresh_from_db()
    assert (row.daily_quota, row.remaining_quota) == (500, 499)


@pytest.mark.django_db
def test_a_first_send_without_quota_leaves_the_quota_unknown(approved, son, sandbox):
    sandbox.oas[OA_SUPPORT_ID]["zns_answer_without_quota"] = True
    _send_now(son, approved)
    row = oa_settings(approved.oa)
    # It should show no quota rather than an OA with none left.
    assert (row.daily_quota, row.remaining_quota, row.quota_synced_at) == (None, None, None)


@pytest.mark.parametrize(
    ("data", "mode", "quota"),
    [
        # Captured from Zalo (API.md §4.2): null mode, "0" of "0".
        (
            {"sending_mode": None, "quota": {"remainingQuota": "0", "dailyQuota": "0"}},
            None,
            (None, None),
        ),
        (
            {"sending_mode": "1", "quota": {"remainingQuota": "0", "dailyQuota": "0"}},
            "1",
            (None, None),
        ),
        (
            {"sending_mode": None, "quota": {"remainingQuota": "7", "dailyQuota": "500"}},
            None,
            (500, 7),
        ),
        (
            {"sending_mode": "1", "quota": {"remainingQuota": "0", "dailyQuota": "500"}},
            "1",
            (500, 0),
        ),
        ({"sending_mode": 3, "quota": {"remainingQuota": 12, "dailyQuota": 20}}, "3", (20, 12)),
        ({"quota": None}, None, (None, None)),
        ({"quota": {"remainingQuota": "", "dailyQuota": "n/a"}}, None, (None, None)),
        ({"quota": {"quota_type": "purchase_quota", "remain": "40"}}, None, (None, 40)),
    ],
)
def test_it_reads_the_quota_of_each_answer_shape(data, mode, quota):
    sent: ZnsSent = read_send({"msg_id": "m1", "sent_time": "1759983921893", **data}, "msg_id")
    assert sent.sending_mode == mode
    assert reported_quota(sent) == quota
