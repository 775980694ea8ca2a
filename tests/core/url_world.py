"""A hub with data in every table, on two OAs of two apps, for the URL and admin walks.

Support OA (app A) and Sales OA (app B) are both connected through the sandbox's consent
page; a customer writes to each through signed webhooks (so partners, shadow contacts,
links, conversations, events and API logs are made by the real pipeline), and the rest
(templates, bulks, health, incidents, suggestions, a merge) by the services that make
them. Objects are named ``*_own`` (Support) and ``*_other`` (Sales): the one-OA agent is
a member of Support only, so Sales rows prove that another OA's id is not found.
"""

import json
import time
from typing import Any

from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.helpers import consent, post_webhook
from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.accounts.oauth import oauth_complete, oauth_start
from zalohub.apilog.models import ApiLog
from zalohub.core.roles import CS_AGENT
from zalohub.diagnostics.models import HealthSnapshot, Incident
from zalohub.diagnostics.services import health_refresh
from zalohub.events.models import Message, RejectedRequest, ZaloEvent
from zalohub.events.processing.queue import drain
from zalohub.inbox.models import (
    Agent,
    Conversation,
    InboxPolicy,
    Label,
    OAMembership,
    SavedReply,
    SentImage,
)
from zalohub.inbox.services import conversation_reply
from zalohub.partners.merge import partner_merge
from zalohub.partners.models import (
    DuplicateSuggestion,
    Partner,
    PartnerPhone,
    ZaloPartnerLink,
)
from zalohub.privacy.models import DataRemovalRequest, subject_ref
from zalohub.sandbox import payloads
from zalohub.sandbox.world import (
    OA_SALES_ID,
    OA_SUPPORT_ID,
    SON_BY_APP,
    SON_SALES_USER_ID,
    SON_SUPPORT_USER_ID,
    demo_world,
)
from zalohub.zbs.bulk import bulk_task
from zalohub.zbs.models import BulkSend, Template
from zalohub.zbs.services import oa_settings

BODY = "Đơn hàng <order_code> đã được xác nhận."
PARAMS = [{"name": "order_code", "type": 4, "max_length": 10, "sample": "DH001"}]


def _connect(spec: dict[str, Any], name: str) -> OfficialAccount:
    app = ZaloApp.objects.create(
        name=spec["name"],
        app_id=spec["app_id"],
        secret_key=spec["secret_key"],
        oa_secret_key=spec["oa_secret_key"],
    )
    oa = OfficialAccount.objects.create(app=app, name=name)
    return oauth_complete(app_id=app.app_id, params=consent(oauth_start(oa=oa)))


def _customer_writes(oa: OfficialAccount, oa_id: str, user_id: str, text: str) -> Message:
    app = oa.app
    msg_id = f"in{user_id[-6:]}{int(time.time() * 1000) % 10**8:08d}"
    raw = json.dumps(
        payloads.user_send(
            app_id=app.app_id,
            oa_id=oa_id,
            user_id=user_id,
            by_app=SON_BY_APP.get(app.app_id, f"by-{user_id}"),
            kind="text",
            msg_id=msg_id,
            timestamp=str(int(time.time() * 1000)),
            text=text,
        ),
        ensure_ascii=False,
    )
    answer = post_webhook(Client(), app.app_id, raw, key=app.oa_secret_key)
    assert answer.status_code == 200, answer.content
    drain()
    return Message.objects.get(zalo_msg_id=msg_id)


def _oa_world(oa: OfficialAccount, oa_id: str, user_id: str, admin: User) -> dict[str, Any]:
    inbound = _customer_writes(oa, oa_id, user_id, "Xin chào")
    conversation = Conversation.objects.get(oa=oa, zalo_user_id=user_id)
    outbound = conversation_reply(conversation=conversation, actor=admin, text="Chào anh")
    SentImage.objects.create(message=outbound, content=b"\x89PNG", content_type="image/png")
    link = ZaloPartnerLink.objects.get(oa=oa, zalo_user_id=user_id)
    template = Template.objects.create(
        oa=oa,
        name=f"Xác nhận đơn hàng {oa.name}",
        body=BODY,
        params=[dict(p) for p in PARAMS],
        template_type=Template.Type.CUSTOM,
        tag=Template.Tag.TRANSACTION,
        status=Template.Status.APPROVED,
        zalo_template_id=f"9{oa.pk:05d}",
    )
    bulk = BulkSend.objects.create(oa=oa, template=template, params={}, total=0)
    health_refresh(oa=oa, alert=False)
    incident = Incident.objects.create(
        oa=oa,
        check_key="token",
        category="auth",
        summary="Token expired",
        opened_at=timezone.now(),
    )
    log = ApiLog.objects.create(
        created_at=timezone.now(),
        method="GET",
        endpoint="oa.getoa",
        url="u",
        duration_ms=1.0,
        oa=oa,
    )
    return {
        "oa": oa,
        "app": oa.app,
        "conversation": conversation,
        "inbound": inbound,
        "outbound": outbound,
        "event": inbound.events.first() or ZaloEvent.objects.filter(oa=oa).first(),
        "link": link,
        "partner": link.partner,  # a shadow contact: the customer is not known yet
        "template": template,
        "settings": oa_settings(oa),
        "bulk": bulk,
        "incident": incident,
        "apilog": log,
        # Its own id, not the OA's: on PostgreSQL ids are not reset between tests.
        "health": HealthSnapshot.objects.get(oa=oa),
    }


def build_world(*, admin: User, agent: User) -> dict[str, Any]:
    apps = demo_world()["apps"]
    support = _connect(apps[0], "Support")
    sales = _connect(apps[1], "Sales")
    agent2 = User.objects.create_user("agent2", password="pw-agent2", is_staff=True)
    agent2.groups.set(Group.objects.filter(name=CS_AGENT))
    membership_own = OAMembership.objects.create(user=agent, oa=support)
    OAMembership.objects.create(user=agent2, oa=support)
    membership_other = OAMembership.objects.create(user=agent2, oa=sales)

    world: dict[str, Any] = {"agent": agent, "agent2": agent2, "admin": admin}
    for suffix, (oa, oa_id, user_id) in {
        "own": (support, OA_SUPPORT_ID, SON_SUPPORT_USER_ID),
        "other": (sales, OA_SALES_ID, SON_SALES_USER_ID),
    }.items():
        for key, value in _oa_world(oa, oa_id, user_id, admin).items():
            world[f"{key}_{suffix}"] = value
    world["membership_own"] = membership_own
    world["membership_other"] = membership_other

    # Two hand-made contacts with one phone: a duplicate suggestion, and a merge of
    # two others (its journal), both for the admin's pages.
    first = Partner.objects.create(name="Trần Thị Mai", is_shadow=False)
    second = Partner.objects.create(name="Tran Thi Mai", is_shadow=False)
    for partner in (first, second):
        PartnerPhone.objects.create(partner=partner, number="84987654321", source="manual")
    world["suggestion"] = DuplicateSuggestion.objects.create(
        first=first, second=second, score=80, reasons=[{"kind": "phone", "value": "84987654321"}]
    )
    survivor = Partner.objects.create(name="Lê Văn Hùng", is_shadow=False)
    merged = Partner.objects.create(name="Le Van Hung", is_shadow=False)
    world["journal"] = partner_merge(survivor=survivor, merged=merged, actor=admin)

    # A forged delivery: the rejected-request list has a row.
    forged = post_webhook(Client(), support.app.app_id, '{"event_name":"x"}', key="wrong")
    assert forged.status_code >= 400
    world["rejected"] = RejectedRequest.objects.order_by("-pk").first()
    # An API key on the Support OA, for its admin pages.
    from zalohub.api.keys import key_create

    world["apikey"] = key_create(name="ERP", oas=[support], capabilities=["send_messages"])[0]
    # The team's settings (issue 19): a manual policy, so the walk assigns nothing itself.
    world["policy"] = InboxPolicy.objects.create(oa=support)
    world["agent_row"] = Agent.objects.create(user=agent2, capacity=5)
    world["saved_reply"] = SavedReply.objects.create(shortcut="chao", text="Chào {{customer_name}}")
    world["label"] = Label.objects.create(name="VIP")
    world["group"] = Group.objects.get(name=CS_AGENT)
    # A data-removal request waiting for a Zalo Admin (user_withdraw).
    world["removal"] = DataRemovalRequest.objects.create(
        oa=support,
        zalo_user_id=SON_SUPPORT_USER_ID,
        subject_ref=subject_ref(OA_SUPPORT_ID, SON_SUPPORT_USER_ID),
        subject_name="Nguyễn Văn Sơn",
    )
    # A row of the task queue (not run: the walk only reads it).
    world["task"] = DBTaskResult.objects.get(id=bulk_task.enqueue(world["bulk_own"].pk).id)
    # A webhook subscription (to a loopback port nobody listens on) and its test delivery.
    from zalohub.webhooks.services import subscription_create, subscription_send_test

    subscription = subscription_create(name="ERP", url="http://127.0.0.1:9/hooks")
    world["subscription"] = subscription
    world["delivery"] = subscription_send_test(subscription_id=subscription.pk)
    return world
