"""Answering, the reply window, assignment and the conversation list, as services."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from zalohub.events.models import Direction, Message, ZaloState
from zalohub.events.outbound.oa_message import SendRefused, message_send
from zalohub.inbox import services
from zalohub.inbox.models import Conversation
from zalohub.inbox.services import Band, ConcurrentReply, Scope, reply_window
from zalohub.partners.models import PartnerPhone, ZaloPartnerLink

from .conftest import SON, conversation_of, send_due

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n" + b"x" * 64


def _sandbox_texts(sandbox) -> list[str]:
    with sandbox.lock:
        return [m.message.get("text", "") for m in sandbox.mailbox.sent_messages()]


def _age(conversation: Conversation, hours: float) -> Conversation:
    """The customer's last interaction was ``hours`` ago."""
    when = timezone.now() - timedelta(hours=hours)
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=when)
    ZaloPartnerLink.objects.filter(pk=conversation.partner_link_id).update(last_interaction_at=when)
    return conversation_of(conversation.zalo_user_id)


@pytest.mark.parametrize(
    ("hours", "band"),
    [
        (1, Band.FREE),
        (47.9, Band.FREE),
        (48.1, Band.BILLED),
        (24 * 6.9, Band.BILLED),
        (24 * 7.1, Band.CLOSED),
    ],
)
def test_it_tells_the_band_of_the_reply_window(db, customer_writes, hours, band):
    customer_writes()
    window = reply_window(_age(conversation_of(), hours))
    # It should count 48 h free, then billed up to 7 days, then closed.
    assert window.band == band
    assert (window.remaining is None) == (band == Band.CLOSED)


def test_it_reads_the_bands_from_settings(db, customer_writes, settings):
    customer_writes()
    conversation = _age(conversation_of(), 30)
    settings.INBOX_FREE_WINDOW_HOURS = 24
    settings.INBOX_REPLY_WINDOW_DAYS = 1
    # It should use the configured bands, not constants.
    assert reply_window(conversation).band == Band.CLOSED
    settings.INBOX_REPLY_WINDOW_DAYS = 2
    window = reply_window(conversation)
    assert window.band == Band.BILLED
    assert timedelta(hours=17) < window.remaining < timedelta(hours=19)


def test_it_sends_a_reply_through_the_pipeline(db, sandbox, customer_writes, agent):
    customer_writes("Giá bao nhiêu?")
    conversation = conversation_of()
    message = services.conversation_reply(conversation=conversation, actor=agent, text="500k ạ")
    # It should queue the message on the pipeline, on the partner, and take the conversation.
    assert message.zalo_state == ZaloState.ON_QUEUE and message.sent_by == agent
    message.refresh_from_db()
    assert message.partner_link_id == conversation.partner_link_id
    assert conversation_of().assigned_to == agent
    assert send_due() == ["sent"]
    # It should reach Zalo once the worker sends it.
    assert _sandbox_texts(sandbox) == ["500k ạ"]


def test_it_refuses_an_empty_reply(db, customer_writes, agent):
    customer_writes()
    # It should say the message is empty, and store nothing.
    with pytest.raises(SendRefused, match="empty"):
        services.conversation_reply(conversation=conversation_of(), actor=agent, text=" \n ")
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


def test_it_refuses_a_reply_outside_the_window(db, sandbox, customer_writes, agent):
    customer_writes()
    conversation = _age(conversation_of(), 24 * 8)
    # Zalo's per-user quota decides the window (issue 16 §11): Zalo saw him then too.
    customer = sandbox.users[conversation.oa.oa_id][conversation.zalo_user_id]
    customer["last_interaction"] = int((timezone.now() - timedelta(days=8)).timestamp())
    # It should refuse before calling Zalo, naming the -230 rule and the template way.
    with pytest.raises(SendRefused, match="-230") as refused:
        services.conversation_reply(conversation=conversation, actor=agent, text="Chào")
    assert "template" in str(refused.value)
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


def test_it_refuses_a_reply_to_someone_who_unfollowed(db, customer_writes, agent):
    customer_writes()
    ZaloPartnerLink.objects.update(is_follower=False)
    # It should explain that Zalo only lets the OA write to its followers.
    with pytest.raises(SendRefused, match="no longer follows"):
        services.conversation_reply(conversation=conversation_of(), actor=agent, text="Chào")


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("virus.exe", b"MZ" + b"\x00" * 10, "JPG or PNG images and PDF"),
        ("big.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (1024 * 1024), "at most 1.0"),
        ("big.pdf", b"%PDF" + b"x" * (5 * 1024 * 1024), "at most 5.0"),
        ("fake.pdf", b"hello", "not really a PDF"),
    ],
)
def test_it_refuses_files_zalo_would_refuse(
    db, sandbox, customer_writes, agent, name, content, reason
):
    customer_writes()
    upload = SimpleUploadedFile(name, content)
    # It should refuse the file before uploading anything, saying why.
    with pytest.raises(SendRefused, match=reason):
        services.conversation_reply(conversation=conversation_of(), actor=agent, upload=upload)
    assert sandbox.call_count("oa.upload") == 0


def test_it_uploads_and_sends_an_image_and_a_pdf(db, sandbox, customer_writes, agent):
    customer_writes()
    conversation = conversation_of()
    image = services.conversation_reply(
        conversation=conversation,
        actor=agent,
        text="Ảnh sản phẩm",
        upload=SimpleUploadedFile("a.png", PNG),
    )
    pdf = services.conversation_reply(
        conversation=conversation, actor=agent, upload=SimpleUploadedFile("bao-gia.pdf", PDF)
    )
    # It should upload to Zalo and keep the file's name for the thread.
    assert image.kind == "image" and image.attachments[0]["name"] == "a.png"
    assert image.attachments[0]["attachment_id"]
    assert pdf.kind == "file" and pdf.attachments[0]["token"]
    assert send_due() == ["sent", "sent"]
    with sandbox.lock:
        kinds = [m.kind for m in sandbox.mailbox.sent_messages()]
    assert kinds == ["image", "file"]


def test_it_asks_to_read_another_agents_answer_first(db, customer_writes, agent, admin):
    inbound = customer_writes()
    conversation = conversation_of()
    services.conversation_reply(conversation=conversation, actor=admin, text="Admin trả lời")
    # It should refuse an answer written before the other agent's answer was seen...
    with pytest.raises(ConcurrentReply, match="admin answered"):
        services.conversation_reply(
            conversation=conversation, actor=agent, text="Tôi cũng", seen_message_id=inbound.pk
        )
    # ...and send it once the agent has seen it.
    latest = Message.objects.order_by("-id").first()
    sent = services.conversation_reply(
        conversation=conversation, actor=agent, text="Tôi cũng", seen_message_id=latest.pk
    )
    assert sent.text == "Tôi cũng"


def test_it_lets_only_one_agent_take_a_conversation(db, customer_writes, agent, admin):
    customer_writes()
    conversation = conversation_of()
    first = services.conversation_assign(
        conversation=conversation, assignee=admin, actor=admin, only_if_unassigned=True
    )
    second = services.conversation_assign(
        conversation=conversation_of(), assignee=agent, actor=agent, only_if_unassigned=True
    )
    # It should give it to the first taker and tell the second one.
    assert (first, second) == (True, False)
    assert conversation_of().assigned_to == admin


def test_it_marks_a_conversation_read(db, customer_writes):
    customer_writes()
    customer_writes()
    conversation = conversation_of()
    # It should zero the unread count once, and say when there was nothing to do.
    assert services.conversation_mark_read(conversation=conversation) is True
    assert conversation_of().unread_count == 0
    assert services.conversation_mark_read(conversation=conversation) is False


def test_it_lists_and_filters_conversations(
    db, connected_oa, customer_writes, agent, admin, member
):
    customer_writes("Áo size M còn không?")
    customer_writes("Tôi là khách mới", user_id="5830174629118340317")
    mai = conversation_of("5830174629118340317")
    son = conversation_of()
    services.conversation_assign(conversation=son, assignee=agent, actor=agent)
    PartnerPhone.objects.create(
        partner=son.partner_link.partner, number="84912345678", source="manual"
    )

    def names(**kwargs) -> list[str]:
        return [c.zalo_user_id for c in services.conversation_list(user=agent, **kwargs)]

    # It should order by the last message, newest first.
    assert names() == [mai.zalo_user_id, SON]
    # It should filter mine and unassigned.
    assert names(scope=Scope.MINE) == [SON]
    assert names(scope=Scope.UNASSIGNED) == [mai.zalo_user_id]
    # It should search by phone (as people write it) and by message text.
    assert names(query="0912 345 678") == [SON]
    assert names(query="size m") == [SON]
    assert names(query="zzz") == []


def test_it_hides_other_oas_from_an_agent(
    db, connected_oa, other_oa, customer_writes, agent, admin, member
):
    customer_writes()
    message_send(oa=other_oa, user_id="999", text="Sales")
    # It should show an agent only the OAs they are a member of; an admin all of them.
    assert [c.oa for c in services.conversation_list(user=agent)] == [connected_oa]
    assert len(services.conversation_list(user=admin)) == 2
    outsider = User.objects.create_user("nobody")
    assert list(services.conversation_list(user=outsider)) == []
