"""The reports count the API's sends (issue 17 with issue 19's summary): the worker's
batch that gives accepted sends their messages and opens conversations marks their day
from what its upsert returned, reading no conversation again, and the summary the task
derives says what the facts say."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.api.conftest import SON
from tests.api.test_accept import _send
from zalohub.api import accept
from zalohub.events.outbound.oa_message import accepted_queue
from zalohub.inbox import report_facts, report_summary, reports
from zalohub.inbox.models import Conversation, ReportDay, ReportDayDirty

pytestmark = pytest.mark.django_db

NEW = ["7000000000000000101", "7000000000000000102"]


def test_a_batch_marks_the_days_it_opens_without_reading_its_conversations_again(make_key, oa, son):
    three_days_ago = timezone.now() - timedelta(days=3)
    Conversation.objects.create(oa=oa, zalo_user_id=SON, created_at=three_days_ago)
    report_summary.settle()
    key, _api = make_key()
    sends = [_send(key, oa, idem="a"), *(_send(key, oa, user_id=u) for u in NEW)]
    with transaction.atomic():
        outcomes = accept._store(sends)
    assert [outcome[0] for outcome in outcomes] == [202, 202, 202]
    assert not Conversation.objects.filter(zalo_user_id__in=NEW).exists()  # not yet
    with CaptureQueriesContext(connection) as queries:
        assert accepted_queue() == 3
    statements = [q["sql"] for q in queries.captured_queries]
    # It should touch the conversations once (their upsert) and mark their day once...
    (upsert,) = [sql for sql in statements if '"inbox_conversation"' in sql]
    assert upsert.startswith("INSERT")
    (marking,) = [sql for sql in statements if '"inbox_reportdaydirty"' in sql]
    assert marking.startswith("INSERT")
    # ...the day of the two it opened, not the day of Son's, which the send left alone.
    today = report_summary.day_of(timezone.now())
    assert set(ReportDayDirty.objects.values_list("day", "oa_id")) == {(today, oa.pk)}
    # The summary the task derives counts them, as the facts do.
    report_summary.settle()
    assert ReportDay.objects.get(day=today, oa_id=oa.pk).new == 2
    filters = reports.Filters((oa.pk,), None, today - timedelta(days=4), today)
    assert reports.build(filters).total.new == 3
    assert report_facts.rebuild(fix=False).total == 0
