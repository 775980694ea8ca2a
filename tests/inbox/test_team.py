"""The team's inbox as services (issue 19): status and snooze, a customer's message
reopening, resolving a selection, the timeline, notes with mentions (never sent to Zalo), labels,
saved replies' variables, and automatic assignment by round robin, fewest open
conversations, capacity and presence."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from zalohub.core.roles import CS_AGENT
from zalohub.inbox import assignment, team
from zalohub.inbox.arrivals import wake_snoozed
from zalohub.inbox.models import (
    Agent,
    AssignmentMode,
    Conversation,
    InboxPolicy,
    Label,
    Mention,
    OAMembership,
    SavedReply,
    Status,
    TimelineEntry,
)

from .conftest import conversation_of

pytestmark = pytest.mark.django_db(transaction=True)
MAI = "5830174629118340317"
HUNG = "5830174629118340318"
THAO = "5830174629118340319"


def _agent(username: str, oa, *, online: bool = True, capacity: int = 0) -> User:
    user = User.objects.create_user(username, password="pw-" + username, is_staff=True)
    user.groups.set(Group.objects.filter(name=CS_AGENT))
    OAMembership.objects.create(user=user, oa=oa)
    Agent.objects.create(
        user=user, capacity=capacity, last_seen_at=timezone.now() if online else None
    )
    return user


def _sent_to_zalo(sandbox) -> list[dict]:
    with sandbox.lock:
        return [m.message for m in sandbox.mailbox.sent_messages()]


def _statuses(conversation: Conversation) -> list[tuple[str, str, str | None]]:
    return [
        (e.status, e.text, e.actor.username if e.actor else None)
        for e in TimelineEntry.objects.filter(
            conversation=conversation, kind=TimelineEntry.Kind.STATUS
        ).select_related("actor")
    ]


def test_it_resolves_and_a_customer_message_reopens(customer_writes, member, agent):
    customer_writes("Cho tôi hỏi giá")
    conversation = conversation_of()
    # It should start Open.
    assert conversation.status == Status.OPEN
    # It should resolve, once, with who in the timeline.
    assert team.conversation_set_status(
        conversation=conversation, status=Status.RESOLVED, actor=agent
    )
    assert not team.conversation_set_status(
        conversation=conversation, status=Status.RESOLVED, actor=agent
    )
    assert conversation_of().status == Status.RESOLVED
    # It should reopen when the customer writes again, and say why.
    customer_writes("Còn một câu nữa")
    assert conversation_of().status == Status.OPEN
    assert _statuses(conversation) == [("resolved", "", "agent"), ("open", "customer", None)]


@pytest.mark.parametrize("status", [Status.PENDING, Status.SNOOZED])
def test_it_reopens_pending_and_snoozed_until_the_customer_writes(
    customer_writes, member, agent, status
):
    customer_writes("Xin chào")
    conversation = conversation_of()
    team.conversation_set_status(conversation=conversation, status=status, actor=agent)
    assert conversation_of().status == status and conversation_of().snoozed_until is None
    # It should wait for the customer, however long.
    assert wake_snoozed(timezone.now() + timedelta(days=365)) == 0
    customer_writes("Tôi đây")
    assert conversation_of().status == Status.OPEN


def test_it_wakes_a_conversation_snoozed_until_a_time(customer_writes, member, agent):
    customer_writes("Xin chào")
    conversation = conversation_of()
    until = team.snooze_until("1h")
    team.conversation_set_status(
        conversation=conversation, status=Status.SNOOZED, actor=agent, snoozed_until=until
    )
    assert conversation_of().snoozed_until == until
    # It should stay snoozed before its time, and open at it, saying so.
    assert wake_snoozed(until - timedelta(minutes=1)) == 0
    assert wake_snoozed(until + timedelta(seconds=1)) == 1
    assert conversation_of().status == Status.OPEN
    assert _statuses(conversation)[-1] == ("open", "snooze", None)
    # It should refuse a time in the past, and an unknown choice.
    with pytest.raises(team.TeamRefused):
        team.conversation_set_status(
            conversation=conversation,
            status=Status.SNOOZED,
            actor=agent,
            snoozed_until=timezone.now() - timedelta(minutes=1),
        )
    with pytest.raises(team.TeamRefused):
        team.snooze_until("forever")


def test_it_resolves_a_selection_only_what_the_agent_may_see(
    customer_writes, member, agent, other_oa
):
    customer_writes("Một")
    customer_writes("Hai", user_id=MAI)
    hidden = Conversation.objects.create(oa=other_oa, zalo_user_id="999")
    ids = [c.pk for c in Conversation.objects.exclude(pk=hidden.pk)]
    client = Client()
    client.force_login(agent)
    response = client.post("/inbox/resolve-selected/", {"c": [*ids, hidden.pk]})
    # It should resolve the agent's two and leave the other OA's alone.
    assert response.json() == {"ok": True, "resolved": 2}
    assert set(Conversation.objects.values_list("pk", "status")) == {
        (ids[0], "resolved"),
        (ids[1], "resolved"),
        (hidden.pk, "open"),
    }
    assert TimelineEntry.objects.filter(status="resolved", actor=agent).count() == 2
    # It should count per status in the list's tabs.
    page = client.get("/inbox/?status=resolved")
    assert [(v, n) for v, _label, n in page.context["status_tabs"]] == [
        ("open", 0),
        ("pending", 0),
        ("snoozed", 0),
        ("resolved", 2),
    ]
    assert len(page.context["rows"]) == 2
    assert client.get("/inbox/").context["rows"] == []


def test_a_note_mentions_a_colleague_and_never_reaches_zalo(
    customer_writes, member, agent, connected_oa, sandbox
):
    customer_writes("Tôi muốn đổi hàng")
    conversation = conversation_of()
    lan = _agent("lan", connected_oa)
    outsider = User.objects.create_user("minh", password="x")
    before = len(_sent_to_zalo(sandbox))
    client = Client()
    client.force_login(agent)
    response = client.post(
        f"/inbox/c/{conversation.pk}/note/", {"text": "@lan xem giúp đơn này, @minh @agent"}
    )
    # It should keep the note, mention the OA's colleague only (not the author, not a
    # stranger), and send nothing to Zalo.
    assert response.json()["ok"] and response.json()["mentioned"] == 1
    assert list(Mention.objects.values_list("user__username", flat=True)) == ["lan"]
    assert len(_sent_to_zalo(sandbox)) == before
    assert not outsider.inbox_mentions.exists()
    # It should list the mention for the colleague until they open the conversation.
    assert [m.entry.text for m in team.mentions_unread(lan)] == [
        "@lan xem giúp đơn này, @minh @agent"
    ]
    colleague = Client()
    colleague.force_login(lan)
    assert "agent mentioned you" in colleague.get("/inbox/").content.decode()
    thread = colleague.get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert "Private note by agent" in thread and "xem giúp đơn này" in thread
    assert not team.mentions_unread(lan).exists()
    # It should refuse an empty note.
    assert client.post(f"/inbox/c/{conversation.pk}/note/", {"text": "  "}).status_code == 400


def test_the_timeline_shows_who_did_what(customer_writes, member, agent, connected_oa):
    customer_writes("Xin chào")
    conversation = conversation_of()
    _agent("lan", connected_oa)
    vip = Label.objects.create(name="VIP", color="#c62828")
    client = Client()
    client.force_login(agent)
    client.post(f"/inbox/c/{conversation.pk}/assign/", {"assignment": "take"})
    client.post(f"/inbox/c/{conversation.pk}/labels/", {"label": [vip.pk]})
    client.post(f"/inbox/c/{conversation.pk}/status/", {"status": "snoozed", "until": "customer"})
    html = client.get(f"/inbox/c/{conversation.pk}/thread/").content.decode()
    # It should say each step, with who.
    assert "agent assigned it to agent" in html
    assert "agent changed the labels: +VIP" in html
    assert "agent set the status to Snoozed (until the customer writes)" in html
    assert list(conversation.labels.values_list("name", flat=True)) == ["VIP"]
    # It should say it in Vietnamese too.
    client.post("/i18n/setlang/", {"language": "vi", "next": "/inbox/"})
    html = client.get(f"/inbox/c/{conversation.pk}/thread/").content.decode()
    assert "agent đã chuyển trạng thái sang Tạm ẩn (đến khi khách hàng nhắn)" in html


def test_saved_replies_fill_in_their_variables(customer_writes, member, agent, connected_oa):
    customer_writes("Xin chào")
    conversation = conversation_of()
    agent.first_name, agent.last_name = "Lan", "Nguyễn"
    agent.save()
    SavedReply.objects.create(
        shortcut="chao", text="Chào {{customer_name}}, em là {{agent_name}} của {{oa_name}}."
    )
    SavedReply.objects.create(oa=connected_oa, shortcut="gia", text="Giá {{ oa_name }}")
    client = Client()
    client.force_login(agent)
    page = client.get(f"/inbox/c/{conversation.pk}/")
    name = page.context["name"]
    # It should offer the shared and the OA's replies, variables filled in.
    assert page.context["saved_replies"] == [
        {"shortcut": "chao", "text": f"Chào {name}, em là Lan Nguyễn của {connected_oa.name}."},
        {"shortcut": "gia", "text": f"Giá {connected_oa.name}"},
    ]


def _arrive(customer_writes, *users: str) -> list[str | None]:
    holders = []
    for user_id in users:
        customer_writes("Xin chào", user_id=user_id)
        holder = conversation_of(user_id).assigned_to
        holders.append(holder.username if holder else None)
    return holders


def test_round_robin_alternates_among_online_members(customer_writes, connected_oa):
    InboxPolicy.objects.create(oa=connected_oa, assignment=AssignmentMode.ROUND_ROBIN)
    _agent("lan", connected_oa)
    _agent("hoa", connected_oa)
    _agent("vang", connected_oa, online=False)
    # It should alternate between the two online agents, never the offline one.
    holders = _arrive(customer_writes, "101", "102", "103", "104")
    assert holders in (["lan", "hoa", "lan", "hoa"], ["hoa", "lan", "hoa", "lan"])
    entry = TimelineEntry.objects.filter(kind="assigned").first()
    assert entry is not None and entry.actor is None  # the hub assigned it
    # It should leave a manual OA's conversation unassigned.
    InboxPolicy.objects.filter(oa=connected_oa).update(assignment=AssignmentMode.MANUAL)
    assert _arrive(customer_writes, "105") == [None]


def test_fewest_open_and_capacity(customer_writes, connected_oa):
    InboxPolicy.objects.create(oa=connected_oa, assignment=AssignmentMode.LEAST_OPEN)
    lan = _agent("lan", connected_oa, capacity=1)
    hoa = _agent("hoa", connected_oa, capacity=2)
    # It should give each to whoever has fewest open, up to capacity, then nobody.
    assert _arrive(customer_writes, "201", "202", "203", "204") == ["lan", "hoa", "hoa", None]
    assert assignment.open_counts([lan.pk, hoa.pk]) == {lan.pk: 1, hoa.pk: 2}
    # A resolved conversation frees a place.
    team.conversation_set_status(conversation=conversation_of("201"), status="resolved", actor=lan)
    assert _arrive(customer_writes, "205") == ["lan"]


def test_a_reopened_conversation_leaves_an_away_assignee(customer_writes, connected_oa):
    InboxPolicy.objects.create(oa=connected_oa, assignment=AssignmentMode.ROUND_ROBIN)
    lan = _agent("lan", connected_oa)
    assert _arrive(customer_writes, THAO) == ["lan"]
    team.conversation_set_status(conversation=conversation_of(THAO), status="resolved", actor=lan)
    hoa = _agent("hoa", connected_oa)
    # While lan is here, the reopened conversation stays hers...
    assert _arrive(customer_writes, THAO) == ["lan"]
    team.conversation_set_status(conversation=conversation_of(THAO), status="resolved", actor=lan)
    # ...once she is away, it goes to hoa at once.
    assignment.set_away(user=lan, away=True)
    assert _arrive(customer_writes, THAO) == ["hoa"]
    assert not assignment.is_available(lan.pk) and assignment.is_available(hoa.pk)


def test_presence_follows_the_live_stream(connected_oa):
    lan = _agent("lan", connected_oa, online=False)
    assert not assignment.is_available(lan.pk)
    assignment.seen(lan.pk)
    assert assignment.is_available(lan.pk)
    # It should drop an agent whose page has been closed for a while.
    later = timezone.now() + timedelta(seconds=assignment.PRESENCE_SECONDS + 1)
    assert not assignment.is_available(lan.pk, later)
