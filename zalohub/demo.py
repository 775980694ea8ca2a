"""Sample data for `zalohub demo`: the hub's side of the sandbox's demo world.

In real life an admin copies the app id and secrets from Zalo's developer console; in
the demo they come from the sandbox's world, which plays that console.
"""

import os

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.core.roles import CS_AGENT, ZALO_ADMIN, ZALO_EVENTS
from zalohub.inbox.models import AssignmentMode, InboxPolicy, Label, OAMembership, SavedReply
from zalohub.sandbox.world import demo_world


def seed_demo() -> tuple[str, str]:
    """Create the demo's apps, OAs and users if missing; return the admin's login."""
    world = demo_world()
    for app in world["apps"]:
        zalo_app, created = ZaloApp.objects.get_or_create(
            app_id=app["app_id"],
            defaults={
                "name": app["name"],
                "secret_key": app["secret_key"],
                "oa_secret_key": app["oa_secret_key"],
            },
        )
        if created:
            for oa_id in app["oa_ids"]:
                oa = next(o for o in world["oas"] if o["oa_id"] == oa_id)
                # Draft, without its OA id: authorization fills it in, as with real Zalo.
                OfficialAccount.objects.get_or_create(app=zalo_app, name=oa["name"])
    user_model = get_user_model()
    password = os.environ.get("ZALOHUB_DEMO_PASSWORD", "zalohub-demo")
    people = [
        ("admin", [ZALO_ADMIN, ZALO_EVENTS], True),
        ("agent", [CS_AGENT], False),
        ("agent2", [CS_AGENT], False),
    ]
    for username, groups, superuser in people:
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": superuser}
        )
        if created:
            user.set_password(password)
            user.save()
            user.groups.set(Group.objects.filter(name__in=groups))
    # The demo's two CS agents answer both OAs' customers in the inbox.
    for username in ("agent", "agent2"):
        agent = user_model.objects.get(username=username)
        for oa in OfficialAccount.objects.all():
            OAMembership.objects.get_or_create(user=agent, oa=oa)
    seed_team()
    return "admin", password


def seed_team() -> None:
    """The team's inbox (issue 19): the Support OA hands new conversations out by round
    robin among the agents with the inbox open; saved replies and labels to try."""
    support = OfficialAccount.objects.filter(name="Support OA").first()
    if support is not None:
        InboxPolicy.objects.get_or_create(
            oa=support, defaults={"assignment": AssignmentMode.ROUND_ROBIN}
        )
    replies = [
        (
            "chao",
            "Dạ em chào anh/chị {{customer_name}}, em là {{agent_name}} của {{oa_name}}. "
            "Em có thể giúp gì ạ?",
        ),
        ("camon", "Cảm ơn anh/chị {{customer_name}} đã liên hệ {{oa_name}} ạ."),
        ("gia", "Dạ, em gửi anh/chị bảng giá mới nhất ngay ạ."),
    ]
    for shortcut, text in replies:
        SavedReply.objects.get_or_create(oa=None, shortcut=shortcut, defaults={"text": text})
    for name, color in [("VIP", "#c62828"), ("Bảo hành", "#a15c00"), ("Đơn mới", "#1b7f3b")]:
        Label.objects.get_or_create(name=name, defaults={"color": color})
