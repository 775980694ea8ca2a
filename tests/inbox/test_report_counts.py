"""The reports' reply counts (issue 19) are the database's count of what ``replies`` reads
row by row: per day, OA and agent, outside the free window when the customer's last
message before the reply is older than the window, or there is none."""

from datetime import timedelta

import pytest
from django.utils import timezone

from zalohub.events.models import Direction, Message
from zalohub.events.outbound.oa_message import message_send
from zalohub.inbox import report_facts, reports

pytestmark = pytest.mark.django_db

NGA = "5830174629118340999"


def test_it_counts_what_the_rows_say(member, agent, connected_oa, customer_writes):
    now = timezone.now()
    # An agent writes first to a customer who never wrote: outside the window.
    message_send(oa=connected_oa, user_id=NGA, text="Chào chị", actor=agent)
    # Son writes, the agent answers at once (inside), then again 3 days later (outside).
    customer_writes("Cho hỏi giá")
    inbound = Message.objects.get(direction=Direction.INBOUND)
    Message.objects.filter(pk=inbound.pk).update(created_at=now - timedelta(days=4))
    inside = message_send(oa=connected_oa, user_id=inbound.zalo_user_id, text="Dạ", actor=agent)
    Message.objects.filter(pk=inside.pk).update(created_at=now - timedelta(days=4, minutes=-5))
    message_send(oa=connected_oa, user_id=inbound.zalo_user_id, text="Còn cần không?", actor=agent)
    # The times above were moved by hand, behind the live writes: derive the facts again.
    report_facts.rebuild()
    today = timezone.localdate()
    filters = reports.Filters(
        oa_ids=(connected_oa.pk,), agent_id=None, start=today - timedelta(days=6), end=today
    )
    rows = reports.replies(filters)
    counts = reports.reply_counts(filters)
    # It should count three replies, two of them outside the free window.
    assert sorted(outside for *_, outside in rows) == [False, True, True]
    assert sum(c[3] for c in counts) == 3 and sum(c[4] for c in counts) == 2
    # It should put each in its day (the reader's), its OA and its agent, as the rows say.
    by_day: dict = {}
    for at, oa, who, outside in rows:
        key = (timezone.localtime(at).date(), oa, who)
        n, out = by_day.get(key, (0, 0))
        by_day[key] = (n + 1, out + int(outside))
    assert {(d, oa, who): (n, out) for d, oa, who, n, out in counts} == by_day
    assert {who for _d, _oa, who, _n, _out in counts} == {agent.pk}
