"""The reports' facts (issue 19) are written when they happen and derivable again from the
messages and the timeline: after a realistic day in the inbox, deriving them again finds
nothing to correct; a fact changed behind the hub's back is found, counted and repaired."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from zalohub.events.models import Direction, Message
from zalohub.events.outbound.oa_message import message_send
from zalohub.inbox import report_facts, services, team
from zalohub.inbox.models import AgentReply, Conversation, Status, TimelineEntry

from .conftest import conversation_of

pytestmark = pytest.mark.django_db

MAI = "5830174629118340317"
NGA = "5830174629118340999"


@pytest.fixture
def day(member, agent, connected_oa, customer_writes):
    """Son asks and is answered, resolved, writes again (reopened) and is resolved in bulk;
    the agent writes first to Nga, who answers later; Mai wrote 3 days ago and is answered
    now (outside the free window); an older message of Nga's arrives late (history)."""
    customer_writes("Cho hỏi giá")
    son = conversation_of()
    services.conversation_reply(conversation=son, actor=agent, text="Dạ 5 triệu ạ")
    team.conversation_set_status(conversation=son, status=Status.RESOLVED, actor=agent)
    customer_writes("Còn hàng không?")
    team.conversations_resolve(conversations=Conversation.objects.filter(pk=son.pk), actor=agent)

    first = message_send(oa=connected_oa, user_id=NGA, text="Chào chị", actor=agent)
    customer_writes("Chào shop", user_id=NGA)
    services.conversation_reply(conversation=conversation_of(NGA), actor=agent, text="Dạ")

    three_days_ago = timezone.now() - timedelta(days=3)
    customer_writes("Bảo hành thế nào?", user_id=MAI)
    Message.objects.filter(zalo_user_id=MAI).update(created_at=three_days_ago)
    Conversation.objects.filter(zalo_user_id=MAI).update(
        created_at=three_days_ago, last_inbound_at=three_days_ago
    )
    message_send(oa=connected_oa, user_id=MAI, text="Dạ 12 tháng", actor=agent)

    # Nga's message from before the agent's first one, loaded late (as Zalo's history is).
    Message.objects.create(
        oa=connected_oa,
        direction=Direction.INBOUND,
        zalo_user_id=NGA,
        text="Shop ơi",
        zalo_msg_id="late-1",
        created_at=first.created_at - timedelta(minutes=1),
    )
    return {"son": son, "first_to_nga": first}


def test_it_derives_what_was_written_live(day, agent):
    # It should find nothing to correct after the day's events...
    assert report_facts.rebuild(fix=False).total == 0
    # ...and the facts should say what happened: every agent message a reply, Mai's
    # outside the free window, and the agent's first to Nga inside it once her older
    # message arrived late (before it, it had none: outside).
    replies = dict(AgentReply.objects.values_list("message__text", "outside_window"))
    assert replies == {
        "Dạ 5 triệu ạ": False,
        "Chào chị": False,
        "Dạ": False,
        "Dạ 12 tháng": True,
    }
    nga = conversation_of(NGA)
    # Nga's late message is her first: the agent's first message now answers it.
    assert nga.first_reply_at == day["first_to_nga"].created_at
    assert nga.first_replier_id == agent.pk
    son = conversation_of()
    resolved = TimelineEntry.objects.filter(conversation=son, status=Status.RESOLVED).order_by(
        "created_at", "id"
    )
    reopened = TimelineEntry.objects.get(conversation=son, status=Status.OPEN)
    assert [e.opened_at for e in resolved] == [son.created_at, reopened.created_at]


def test_it_finds_and_repairs_drift(day):
    AgentReply.objects.filter(message__text="Dạ").update(outside_window=True)
    AgentReply.objects.filter(message__text="Chào chị").delete()
    Conversation.objects.filter(zalo_user_id=MAI).update(first_reply_at=None)
    TimelineEntry.objects.filter(status=Status.RESOLVED).update(opened_at=None)
    # It should count each kind of difference, and refuse a --check...
    drift = report_facts.rebuild(fix=False)
    assert (drift.replies_changed, drift.replies_added, drift.first_responses) == (1, 1, 1)
    assert drift.resolutions == 2 and drift.replies_removed == 0
    with pytest.raises(CommandError):
        call_command("report_facts", "--check")
    # ...and repair them all.
    call_command("report_facts")
    assert report_facts.rebuild(fix=False).total == 0
    assert AgentReply.objects.get(message__text="Dạ").outside_window is False


def test_a_customers_first_message_marks_the_day_its_conversation_was_opened(
    agent, connected_oa, customer_writes
):
    from zalohub.inbox import report_summary
    from zalohub.inbox.models import ReportDayDirty

    # The agent wrote first, three days ago; the facts and the summary hold that day.
    message_send(oa=connected_oa, user_id=MAI, text="Chào chị", actor=agent)
    three_days_ago = timezone.now() - timedelta(days=3)
    Message.objects.filter(zalo_user_id=MAI).update(created_at=three_days_ago)
    Conversation.objects.filter(zalo_user_id=MAI).update(created_at=three_days_ago)
    report_facts.rebuild()
    assert not ReportDayDirty.objects.exists()
    # It should mark the conversation's day (its first response changed), not today's.
    customer_writes("Chào shop", user_id=MAI)
    marked = set(ReportDayDirty.objects.values_list("day", "oa_id"))
    assert marked == {(report_summary.day_of(three_days_ago), connected_oa.pk)}
    report_summary.settle()
    assert report_facts.rebuild(fix=False).total == 0
