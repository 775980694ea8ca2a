"""An image whose upload Zalo no longer keeps (7 days, API.md §2.3) is refused with the OA
host's -100, "attachment_id was expired": the reply fails at once and says to upload it
again, never "unknown error" (that is the ZBS host's -100)."""

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from tests.inbox.conftest import SON, conversation_of, send_due
from zalohub.core.stored_text import shown_reason
from zalohub.events.models import ZaloState
from zalohub.inbox import services
from zalohub.sandbox.world import OA_SUPPORT_ID

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
WEEK = 7 * 24 * 3600


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_an_image_sent_after_its_upload_expired_says_to_upload_it_again(
    customer_writes, agent, sandbox
):
    customer_writes()
    upload = SimpleUploadedFile("anh.png", PNG, content_type="image/png")
    message = services.conversation_reply(
        conversation=conversation_of(), actor=agent, upload=upload
    )
    # The send waits past Zalo's 7 days; the customer writes again meanwhile, so only the
    # upload is too old (the access token too: the hub refreshes it).
    now = sandbox.advance_clock(WEEK + 3600)
    sandbox.users[OA_SUPPORT_ID][SON]["last_interaction"] = int(now)
    assert send_due() == ["failed"]
    message.refresh_from_db()
    assert (message.zalo_state, message.failure_code) == (ZaloState.FAILED, -100)
    # It should say the upload expired and what to do, in each reader's language.
    shown = shown_reason(message, "failure_reason")
    assert shown.startswith("Zalo error -100: The uploaded image or file has expired")
    assert "attachment_id was expired" in message.failure_reason
    with translation.override("vi"):
        assert "hãy tải lên lại" in shown_reason(message, "failure_reason")
