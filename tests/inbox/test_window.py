"""The reply window from Zalo's per-user quota (issue 16 §11): where ``quota/message``
answers (the sandbox on loopback), it decides; the local computation is the fallback and
the thread says which it is."""

import time

import pytest
from django.core.cache import cache
from django.test import Client

from tests.inbox.conftest import SON
from zalohub.apilog.models import ApiLog
from zalohub.inbox.models import Conversation
from zalohub.inbox.services import Band
from zalohub.inbox.window import LOCAL, ZALO, reply_window_checked
from zalohub.sandbox.world import OA_SUPPORT_ID

pytestmark = pytest.mark.django_db
QUOTA = "oa.quota.message"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _page(user, conversation) -> str:
    client = Client()
    client.force_login(user)
    return client.get(f"/inbox/c/{conversation.pk}/").content.decode()


def test_zalos_quota_decides_the_free_reply(member, agent, customer_writes, sandbox):
    customer_writes()
    conversation = Conversation.objects.get(zalo_user_id=SON)
    # Locally Son just wrote (free); Zalo saw him last 3 days ago: not free, billed.
    sandbox.users[OA_SUPPORT_ID][SON]["last_interaction"] = int(time.time()) - 3 * 86400
    checked = reply_window_checked(conversation)
    assert checked.source == ZALO and checked.window.band == Band.BILLED
    # ...until the 7 days since Zalo's last interaction are over (4 days from now).
    left = checked.window.remaining.total_seconds()
    assert 4 * 86400 - 120 < left <= 4 * 86400
    page = _page(agent, conversation)
    assert 'data-band="billed"' in page and 'data-source="zalo"' in page
    # Asked once a minute at most (the live thread draws again on every update).
    assert sandbox.call_count(QUOTA) == 1
    assert ApiLog.objects.filter(endpoint=QUOTA, oa=conversation.oa).count() == 1


def test_a_free_reply_zalo_confirms(member, agent, customer_writes, sandbox):
    customer_writes()
    conversation = Conversation.objects.get(zalo_user_id=SON)
    checked = reply_window_checked(conversation)
    assert checked.source == ZALO and checked.window.band == Band.FREE


def test_without_zalos_answer_the_local_window_says_so(member, agent, customer_writes, sandbox):
    customer_writes()
    conversation = Conversation.objects.get(zalo_user_id=SON)
    sandbox.add_fault(QUOTA, "zalo_error", code=-32, times=5)
    checked = reply_window_checked(conversation)
    assert checked.source == LOCAL and checked.window.band == Band.FREE
    assert "Zalo's quota did not answer" in checked.why_local
    page = _page(agent, conversation)
    assert 'data-source="local"' in page and "(computed here: Zalo" in page
    # The failed call is in the API log, as every call is.
    assert ApiLog.objects.filter(endpoint=QUOTA, error_code=-32).count() == 1


def test_zalos_answer_without_a_time_is_placed_by_the_local_one():
    from datetime import timedelta

    from django.utils import timezone

    from zalohub.inbox.services import ReplyWindow
    from zalohub.inbox.window import _from_zalo

    now = timezone.now()
    local = ReplyWindow(Band.FREE, now - timedelta(hours=1), None, None)
    # Zalo: no free reply left, no time given: billed, until 7 days after the local time.
    window = _from_zalo(0, None, local, now)
    assert window.band == Band.BILLED and window.last_interaction_at == local.last_interaction_at
    assert window.band_ends_at == local.last_interaction_at + timedelta(days=7)
    # No time anywhere: billed, for how long unknown.
    assert (
        _from_zalo(0, None, ReplyWindow(Band.UNKNOWN, None, None, None), now).band_ends_at is None
    )


def test_the_thread_says_when_zalo_flags_a_user_under_18(member, agent, customer_writes):
    from zalohub.partners.models import ZaloPartnerLink

    customer_writes()
    conversation = Conversation.objects.get(zalo_user_id=SON)
    assert 'id="zalo-sensitive"' not in _page(agent, conversation)
    ZaloPartnerLink.objects.filter(pk=conversation.partner_link_id).update(is_sensitive=True)
    assert 'id="zalo-sensitive"' in _page(agent, conversation)
