"""Reports (issue 19): first response, resolution, replies outside the free window, per
day, agent and OA, computed from the messages and the timeline; the page and its CSV."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from tests.helpers import on_one_day
from zalohub.core.roles import CS_AGENT
from zalohub.events.models import Direction, Message
from zalohub.inbox import report_facts, reports, services, team
from zalohub.inbox.models import Conversation, OAMembership, TimelineEntry

from .conftest import conversation_of

pytestmark = pytest.mark.django_db(transaction=True)
MAI = "5830174629118340317"


def _shift(qs, **delta) -> None:
    for row in qs:
        type(row).objects.filter(pk=row.pk).update(created_at=row.created_at - timedelta(**delta))


@pytest.fixture
def history(customer_writes, member, agent, connected_oa):
    """Son: wrote 10 minutes ago, agent answered 4 minutes later, resolved 20 minutes after
    the conversation began. Mai: last wrote 3 days ago; lan answers now (billed). "Now"
    is ``on_one_day``'s (the report's days are local days); ``day`` is its date."""
    lan = User.objects.create_user("lan", password="x", is_staff=True)
    lan.groups.set(Group.objects.filter(name=CS_AGENT))
    OAMembership.objects.create(user=lan, oa=connected_oa)
    customer_writes("Cho hỏi giá")
    son = conversation_of()
    services.conversation_reply(conversation=son, actor=agent, text="Dạ 5 triệu ạ")
    now = on_one_day(timedelta(minutes=30))
    Conversation.objects.filter(pk=son.pk).update(created_at=now - timedelta(minutes=20))
    Message.objects.filter(direction=Direction.INBOUND).update(
        created_at=now - timedelta(minutes=10)
    )
    Message.objects.filter(direction=Direction.OUTBOUND).update(
        created_at=now - timedelta(minutes=6)
    )
    team.conversation_set_status(conversation=son, status="resolved", actor=agent)
    TimelineEntry.objects.filter(conversation=son).update(created_at=now)

    customer_writes("Bảo hành thế nào?", user_id=MAI)
    mai = conversation_of(MAI)
    Message.objects.filter(zalo_user_id=MAI).update(created_at=now - timedelta(days=3))
    Conversation.objects.filter(pk=mai.pk).update(created_at=now - timedelta(days=3))
    Conversation.objects.filter(pk=mai.pk).update(last_inbound_at=now - timedelta(days=3))
    services.conversation_reply(conversation=conversation_of(MAI), actor=lan, text="Dạ 12 tháng")
    Message.objects.filter(zalo_user_id=MAI, direction=Direction.OUTBOUND).update(created_at=now)
    TimelineEntry.objects.filter(conversation=mai).update(created_at=now)
    # The times above were moved by hand, behind the live writes: derive the report's
    # facts again, as ``zalohub report_facts`` repairs drift.
    report_facts.rebuild()
    return {"agent": agent, "lan": lan, "oa": connected_oa, "day": timezone.localdate(now)}


def _filters(history, *, agent=None, days: int = 7) -> reports.Filters:
    today = history["day"]
    return reports.Filters(
        oa_ids=(history["oa"].pk,),
        agent_id=agent.pk if agent else None,
        start=today - timedelta(days=days - 1),
        end=today,
    )


def test_it_computes_times_from_the_timeline(history):
    report = reports.build(_filters(history))
    total = report.total
    # It should count both conversations, Son's first response (4 minutes) and his
    # resolution (20 minutes since the conversation began)...
    assert total.new == 2 and total.resolved == 1
    three_days = 3 * 86400
    assert sorted(total.first_responses) == [
        pytest.approx(240, abs=2),
        pytest.approx(three_days, abs=5),
    ]
    assert total.resolutions == [pytest.approx(1200, abs=5)]
    # ...both replies, one of them outside the free window (Mai last wrote 3 days ago).
    assert total.replies == 2 and total.outside_window == 1
    agent, lan = history["agent"], history["lan"]
    assert report.agents[agent.pk].resolved == 1 and report.agents[agent.pk].outside_window == 0
    assert report.agents[lan.pk].outside_window == 1
    # By day: Mai's conversation began 3 days ago, Son's today.
    today = history["day"]
    assert report.days[today].new == 1 and report.days[today - timedelta(days=3)].new == 1
    assert report.agents[lan.pk].first_responses == [pytest.approx(three_days, abs=5)]


def test_it_filters_by_agent_and_period(history):
    lan = history["lan"]
    report = reports.build(_filters(history, agent=lan))
    assert (report.total.new, report.total.resolved, report.total.replies) == (1, 0, 1)
    assert reports.build(_filters(history, days=1)).total.new == 1


def test_the_page_and_its_csv(history, agent):
    client = Client()
    client.force_login(agent)
    page = client.get("/inbox/reports/")
    html = page.content.decode()
    assert page.status_code == 200
    # It should draw both charts and both tables.
    assert html.count("<svg") == 2 and 'id="report-agents"' in html and 'id="report-oas"' in html
    assert "4 min" in html and "20 min" in html
    response = client.get("/inbox/reports/?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][0] == "day" and len(rows) == 8
    today = next(r for r in rows if r[0] == history["day"].isoformat())
    assert today[1:3] == ["1", "1"] and abs(int(today[3]) - 240) <= 2
    assert today[5:] == ["2", "1"]  # both replies today, Mai's outside the window
    # A bad date is ignored, not an error.
    assert client.get("/inbox/reports/?start=yesterday").status_code == 200
