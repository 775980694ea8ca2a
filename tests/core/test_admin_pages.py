"""Every admin page opens with data present: each registered model's list, add form and
the change form of each of its rows (issue 13 §16: the shadow contacts' list answered
500 as soon as one shadow contact existed).

The data is the URL walk's world (tests/core/url_world.py): two OAs, partners, shadow
contacts, links, events, messages, conversations, templates, bulks, API logs, health,
incidents, a duplicate suggestion, a merge journal, a rejected request, a task row.
"""

from typing import Any

import pytest
from django.contrib import admin as django_admin
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from tests.core.url_world import build_world
from zalohub.core.roles import ZALO_ADMIN, ZALO_EVENTS

pytestmark = pytest.mark.django_db

ROWS_PER_MODEL = 5  # enough to meet each kind of row the world made, in a bounded time


@pytest.fixture
def world(sandbox, admin, agent) -> dict[str, Any]:
    return build_world(admin=admin, agent=agent)


def _pages(client: Client, user: User) -> tuple[list[str], list[tuple[str, int]]]:
    """Every list, add form and change form ``user`` may open, and what each answered."""
    request = type("R", (), {"user": user})()
    opened, wrong = [], []
    for model, model_admin in django_admin.site._registry.items():
        meta = model._meta
        if not model_admin.has_view_or_change_permission(request):
            continue
        base = f"admin:{meta.app_label}_{meta.model_name}"
        urls = [reverse(f"{base}_changelist")]
        if model_admin.has_add_permission(request):
            urls.append(reverse(f"{base}_add"))
        for pk in model_admin.get_queryset(request).values_list("pk", flat=True)[:ROWS_PER_MODEL]:
            urls.append(reverse(f"{base}_change", args=[pk]))
        for url in urls:
            status = client.get(url).status_code
            opened.append(url)
            if status != 200:
                wrong.append((url, status))
    return opened, wrong


def test_every_admin_page_opens_for_a_zalo_admin_with_the_events_grant(world, admin) -> None:
    admin.groups.add(Group.objects.get(name=ZALO_EVENTS))
    client = Client()
    client.force_login(admin)
    opened, wrong = _pages(client, User.objects.get(pk=admin.pk))
    # It should open every list and form of the hub with data in it.
    assert not wrong, wrong
    # It should have met the pages of every app of the hub, with rows in them (the walk
    # proves nothing about a list it never opened or a form of a row it never had).
    for prefix in (
        "/admin/partners/shadowcontact/",
        "/admin/partners/zalopartnerlink/",
        "/admin/partners/mergejournal/",
        "/admin/events/zaloevent/",
        "/admin/events/rejectedrequest/",
        "/admin/inbox/conversation/",
        "/admin/inbox/oamembership/",
        "/admin/zbs/template/",
        "/admin/zbs/bulksend/",
        "/admin/apilog/apilog/",
        "/admin/diagnostics/incident/",
        "/admin/accounts/officialaccount/",
    ):
        assert any(u.startswith(prefix) and u.endswith("/change/") for u in opened), prefix


def test_every_admin_page_opens_for_a_superuser(world) -> None:
    root = User.objects.create_superuser("root", password="pw-root")
    client = Client()
    client.force_login(root)
    opened, wrong = _pages(client, root)
    # It should open the framework's pages too (users, groups, the task queue).
    assert not wrong, wrong
    for prefix in ("/admin/django_tasks_database/", "/admin/auth/user/", "/admin/auth/group/"):
        assert any(u.startswith(prefix) and u.endswith("/change/") for u in opened), prefix


def test_the_zalo_admin_role_reaches_every_model_of_the_hub(admin) -> None:
    admin.groups.add(Group.objects.get(name=ZALO_EVENTS))
    request = type("R", (), {"user": User.objects.get(pk=admin.pk)})()
    # It should let a Zalo Admin (with the Zalo Events grant) view every model of the
    # hub's own apps: a model its role forgot would be a page nobody but root can open.
    assert admin.groups.filter(name=ZALO_ADMIN).exists()
    missing = [
        f"{m._meta.app_label}.{m._meta.model_name}"
        for m, model_admin in django_admin.site._registry.items()
        if m.__module__.startswith("zalohub.")
        and not model_admin.has_view_or_change_permission(request)
    ]
    assert not missing, missing
