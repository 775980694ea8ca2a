"""Customers have names (issue 14 §3): a new Zalo user's profile is fetched in the
background from the sandbox Zalo on loopback, within the app's call budget; the partner's
name follows Zalo's until staff edit it; Zalo Events and the inbox show names, the id on
hover."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker as TaskRunner
from django_tasks_db.models import DBTaskResult

from tests.helpers import post_webhook
from zalohub.accounts.models import RateWindow
from zalohub.events.processing.queue import drain
from zalohub.inbox.models import Conversation, OAMembership
from zalohub.partners.models import NameSource, Partner, ZaloPartnerLink
from zalohub.partners.tasks import requeue_profile_fetches
from zalohub.sandbox import payloads
from zalohub.sandbox.customers import customer_update_profile
from zalohub.sandbox.world import (
    APP_SUPPORT_ID,
    OA_SUPPORT_ID,
    SON_BY_APP,
    SON_SUPPORT_USER_ID,
)

pytestmark = pytest.mark.django_db

MAI = "5830174629118340317"  # "Zalo user 340317" in the issue
HA = "5830174629118340528"
BY_APP = {SON_SUPPORT_USER_ID: SON_BY_APP[APP_SUPPORT_ID], MAI: "3104458812290779917"}
DETAIL = "oa.user.detail"


def _writes(client, app, user_id: str, text: str = "Xin chào") -> None:
    """The sandbox customer ``user_id`` writes to the Support OA (a signed webhook)."""
    event = payloads.user_send(
        app_id=app.app_id,
        oa_id=OA_SUPPORT_ID,
        user_id=user_id,
        by_app=BY_APP.get(user_id, ""),
        kind="text",
        msg_id=f"m{time.monotonic_ns()}",
        timestamp=str(int(time.time() * 1000)),
        text=text,
    )
    response = post_webhook(client, app.app_id, json.dumps(event), key=app.oa_secret_key)
    assert response.status_code == 200, response.content


def _run_tasks() -> int:
    """What a worker's task runner does with every task that is ready now."""
    runner = TaskRunner(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test",
        excluded_queue_names=[],
    )
    ran = 0
    while task := DBTaskResult.objects.ready().order_by("enqueued_at").first():
        task.claim(runner.worker_id)
        runner.run_task(task)
        ran += 1
    return ran


def _next_minute() -> None:
    """The app's budget window has passed: its counter and the held tasks are due."""
    RateWindow.objects.all().delete()
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    ZaloPartnerLink.objects.exclude(profile_due_at=None).update(profile_due_at=timezone.now())


def _away_from_a_minute_boundary() -> None:
    # The budget is per calendar minute; a test must not straddle two.
    if timezone.now().second >= 57:
        time.sleep(60 - timezone.now().second)


def test_a_new_users_first_message_names_the_contact_once_the_worker_runs(
    client, zalo_app, connected_oa, sandbox
):
    _writes(client, zalo_app, MAI)
    _writes(client, zalo_app, SON_SUPPORT_USER_ID)
    drain()
    mai = ZaloPartnerLink.objects.get(zalo_user_id=MAI)
    # It should not call Zalo while handling the webhook: the profile is for the worker.
    assert sandbox.call_count(DETAIL) == 0 and mai.profile_due_at is not None
    assert _run_tasks() == 1  # one task for the batch's new users, carrying their ids
    mai.refresh_from_db()
    son = ZaloPartnerLink.objects.get(zalo_user_id=SON_SUPPORT_USER_ID)
    # It should give the link and the shadow contact Zalo's name and avatar.
    assert mai.display_name == "Trần Thị Mai" and mai.partner.name == "Trần Thị Mai"
    assert mai.avatar.startswith("http://127.0.0.1") and "size=240" in mai.avatar
    assert mai.partner.is_shadow and mai.partner.name_source == NameSource.ZALO
    assert mai.synced_at and mai.profile_due_at is None
    # It should keep what the OA's staff set on Zalo (tags, alias, notes).
    assert son.partner.name == "Nguyễn Văn Sơn" and son.tag_names == ["Khách VIP"]
    assert son.user_alias == "" and son.zalo_notes == []
    assert sandbox.call_count(DETAIL) == 2
    # It should not fetch again for later messages of known users.
    _writes(client, zalo_app, MAI, "Cho tôi hỏi đơn hàng")
    drain()
    assert _run_tasks() == 0 and sandbox.call_count(DETAIL) == 2


def test_a_name_staff_edited_is_kept_on_a_later_sync(
    client, admin, zalo_app, connected_oa, sandbox
):
    _writes(client, zalo_app, MAI)
    drain()
    _run_tasks()
    link = ZaloPartnerLink.objects.get(zalo_user_id=MAI)
    client.force_login(admin)
    sync = f"/admin/partners/zalopartnerlink/{link.pk}/sync-profile/"
    # It should follow the customer's Zalo name while staff have not named them.
    customer_update_profile(sandbox, oa_id=OA_SUPPORT_ID, user_id=MAI, display_name="Mai Trần")
    client.post(sync)
    assert Partner.objects.get(pk=link.partner_id).name == "Mai Trần"
    form = {
        "name": "Chị Mai (Đà Nẵng)",
        "email": "",
        "notes": "",
        "external_refs": "{}",
        "phones-TOTAL_FORMS": "0",
        "phones-INITIAL_FORMS": "0",
        # The read-only inlines (links, decisions) post no rows.
        "zalo_links-TOTAL_FORMS": "0",
        "zalo_links-INITIAL_FORMS": "0",
        "decisions-TOTAL_FORMS": "0",
        "decisions-INITIAL_FORMS": "0",
    }
    response = client.post(f"/admin/partners/partner/{link.partner_id}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Partner.objects.get(pk=link.partner_id).name_source == NameSource.STAFF
    customer_update_profile(sandbox, oa_id=OA_SUPPORT_ID, user_id=MAI, display_name="Mai T.")
    client.post(sync)
    link.refresh_from_db()
    # It should show Zalo's new name on the link, and keep staff's on the partner.
    assert link.display_name == "Mai T."
    assert link.partner.name == "Chị Mai (Đà Nẵng)"


def test_profile_fetches_keep_within_the_apps_call_budget(
    client, zalo_app, connected_oa, sandbox, settings
):
    settings.ZALO_RATE_LIMIT_PER_MINUTE = 2
    _away_from_a_minute_boundary()
    for user_id in (SON_SUPPORT_USER_ID, MAI, HA):
        _writes(client, zalo_app, user_id)
    drain()
    _run_tasks()
    # It should call Zalo only as often as the budget allows this minute...
    assert sandbox.call_count(DETAIL) == 2
    held = ZaloPartnerLink.objects.get(synced_at=None)
    assert held.profile_due_at > timezone.now() + timedelta(seconds=1)
    later = DBTaskResult.objects.get(status="READY")
    assert later.args_kwargs["args"] == [[held.pk]] and later.run_after > timezone.now()
    assert _run_tasks() == 0  # ...and hold the rest for the next window
    assert sandbox.call_count(DETAIL) == 2
    _next_minute()
    _run_tasks()
    held.refresh_from_db()
    # It should fetch the rest in the next window.
    assert sandbox.call_count(DETAIL) == 3 and held.display_name == "Phạm Thu Hà"
    assert not ZaloPartnerLink.objects.exclude(profile_due_at=None).exists()


def test_a_fetch_lost_with_its_worker_is_asked_again(client, zalo_app, connected_oa, sandbox):
    _writes(client, zalo_app, MAI)
    drain()
    # The worker died: its task is gone, the link still due.
    DBTaskResult.objects.all().delete()
    ZaloPartnerLink.objects.update(profile_due_at=timezone.now() - timedelta(minutes=5))
    assert requeue_profile_fetches() == 1
    _run_tasks()
    assert ZaloPartnerLink.objects.get().display_name == "Trần Thị Mai"


def test_zalo_events_show_the_customers_name_with_the_id_on_hover(
    client, auditor, zalo_app, connected_oa, sandbox
):
    _writes(client, zalo_app, MAI)
    drain()
    _run_tasks()
    client.force_login(auditor)
    page = client.get("/admin/events/zaloevent/").content.decode()
    # It should name the customer in the list and in its filter, the id in the title.
    assert page.count("Trần Thị Mai") >= 2
    assert f"Zalo user ID {MAI}: all events of this customer" in page
    assert f'title="Zalo user ID {MAI}"' in page
    assert f">{MAI}<" not in page
    # It should find the customer's events by name as well as by id.
    by_name = client.get("/admin/events/zaloevent/", {"customer": "Mai"})
    assert len(by_name.context["cl"].result_list) == 1
    by_id = client.get("/admin/events/zaloevent/", {"customer": MAI})
    assert len(by_id.context["cl"].result_list) == 1


def test_the_inbox_shows_the_name_with_the_id_on_hover(
    client, agent, zalo_app, connected_oa, sandbox
):
    OAMembership.objects.create(user=agent, oa=connected_oa)
    _writes(client, zalo_app, MAI)
    drain()
    before = Conversation.objects.get().updated_at
    _run_tasks()
    # It should mark the conversation changed, so live pages show the name at once.
    assert Conversation.objects.get().updated_at > before
    client.force_login(agent)
    page = client.get("/inbox/").content.decode()
    assert "Trần Thị Mai" in page and f'title="Zalo user ID {MAI}"' in page
    # It should name the customer in the conversations' admin list as well.
    listing = client.get("/admin/inbox/conversation/").content.decode()
    assert f'<span title="Zalo user ID {MAI}">Trần Thị Mai</span>' in listing
    # And in the title of its own admin page, not by Zalo's user id.
    conversation = Conversation.objects.get()
    detail = client.get(f"/admin/inbox/conversation/{conversation.pk}/change/").content.decode()
    title = detail.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "Trần Thị Mai @ " in title and MAI not in title
    # Its last message is what the customer said, not the message's kind and user id.
    last = detail.split("field-last_message_shown", 1)[1].split("field-last_message_at", 1)[0]
    assert "Xin chào" in last and MAI not in last


def test_sync_profile_past_the_budget_is_left_to_the_worker(
    client, admin, zalo_app, connected_oa, sandbox, settings
):
    from zalohub.accounts import ratelimit
    from zalohub.partners.resolution import ZaloUser, resolve_link

    settings.ZALO_RATE_LIMIT_PER_MINUTE = 1
    _away_from_a_minute_boundary()
    link = resolve_link(oa=connected_oa, user=ZaloUser(MAI))
    DBTaskResult.objects.all().delete()
    assert ratelimit.acquire(str(zalo_app.pk)) == 0  # another call took this minute's one
    client.force_login(admin)
    response = client.post(f"/admin/partners/zalopartnerlink/{link.pk}/sync-profile/", follow=True)
    # It should not call Zalo, say so, and leave the fetch to the worker.
    assert sandbox.call_count(DETAIL) == 0
    assert "used up" in response.content.decode()
    assert DBTaskResult.objects.get().args_kwargs["args"] == [[link.pk]]
    _run_tasks()
    assert sandbox.call_count(DETAIL) == 0  # still this minute
    _next_minute()
    _run_tasks()
    link.refresh_from_db()
    assert link.display_name == "Trần Thị Mai" and sandbox.call_count(DETAIL) == 1


def test_a_customer_met_before_the_oa_was_authorized_is_named_once_it_is(client, zalo_app, sandbox):
    from tests.helpers import consent
    from zalohub.accounts.models import OfficialAccount
    from zalohub.accounts.oauth import oauth_complete, oauth_start

    oa = OfficialAccount.objects.create(app=zalo_app, name="Support", oa_id=OA_SUPPORT_ID)
    _writes(client, zalo_app, MAI)
    drain()
    _run_tasks()
    link = ZaloPartnerLink.objects.get()
    # It should say why there is no name yet, and keep the fetch due for later.
    assert link.display_name == "" and link.sync_error
    assert link.profile_due_at is not None and sandbox.call_count(DETAIL) == 0
    oauth_complete(app_id=zalo_app.app_id, params=consent(oauth_start(oa=oa)))
    ZaloPartnerLink.objects.update(profile_due_at=timezone.now() - timedelta(minutes=5))
    requeue_profile_fetches()
    _run_tasks()
    link.refresh_from_db()
    assert link.display_name == "Trần Thị Mai" and link.partner.name == "Trần Thị Mai"
