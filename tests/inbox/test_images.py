"""Pictures in the inbox: the sandbox's customers send real images (not 1-pixel
placeholders), an image an agent sent is shown from the hub's copy to members of its OA
only, and the site has a favicon."""

import struct

import httpx
import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from zalohub.core.roles import CS_AGENT
from zalohub.events.models import Direction, Message
from zalohub.inbox.models import OAMembership
from zalohub.sandbox import payloads, pictures

from .conftest import conversation_of, send_due

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_it_gives_the_sandboxs_customer_images_real_pixels(sandbox_server, sandbox):
    attachment = payloads.default_attachment("image", base=sandbox.base_url, msg_id="abc123")
    answer = httpx.get(attachment["payload"]["thumbnail"], timeout=5)
    # It should answer a picture of photo size, not a single pixel...
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert _png_size(answer.content) == (320, 240)
    # ...the same one each time for a message, and a different one for another message.
    assert httpx.get(attachment["payload"]["url"], timeout=5).content == answer.content
    other = payloads.default_attachment("image", base=sandbox.base_url, msg_id="xyz789")
    assert httpx.get(other["payload"]["url"], timeout=5).content != answer.content
    sticker = payloads.default_attachment("sticker", base=sandbox.base_url, msg_id="abc123")
    assert _png_size(httpx.get(sticker["payload"]["url"], timeout=5).content) == (128, 128)


def test_it_shows_a_sent_image_to_members_of_its_oa_only(
    member, agent, outsider, other_oa, customer_writes
):
    customer_writes()
    conversation = conversation_of()
    picture = pictures.landscape("sent-by-agent")
    reply = _client(agent).post(
        f"/inbox/c/{conversation.pk}/reply/",
        {"text": "Mẫu này ạ", "file": SimpleUploadedFile("mau.png", picture)},
    )
    assert reply.json()["ok"] is True
    assert send_due() == ["sent"]
    message = Message.objects.get(direction=Direction.OUTBOUND)
    url = f"/inbox/m/{message.pk}/image/"
    # It should show the picture in the thread, from the hub's copy...
    thread = _client(agent).get(f"/inbox/c/{conversation.pk}/thread/").content.decode()
    assert f'<img class="ib-img" src="{url}"' in thread
    image = _client(agent).get(url)
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert image.content == picture
    # ...and to nobody outside the OA.
    lan = User.objects.create_user("lan", is_staff=True)
    lan.groups.set(Group.objects.filter(name=CS_AGENT))
    OAMembership.objects.create(user=lan, oa=other_oa)  # a CS agent of another OA
    assert _client(lan).get(url).status_code == 404  # another OA's: as if missing
    assert _client(outsider).get(url).status_code == 403  # no inbox role at all
    assert Client().get(url).status_code == 302  # to the login page


def test_it_has_a_favicon(agent, member):
    icon = Client().get("/favicon.ico")
    # It should answer an icon, and every page should point at it.
    assert icon.status_code == 200 and icon["Content-Type"] == "image/vnd.microsoft.icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO directory
    link = '<link rel="icon" href="/favicon.ico"'
    assert link in Client().get("/admin/login/").content.decode()
    assert link in _client(agent).get("/inbox/").content.decode()
