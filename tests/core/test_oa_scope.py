"""The one rule (``accounts.scope.acting_oas``) where the URL walk cannot see it: the
inbox's "Also writes to:", the bulk send service, and the roles' grants on migrate."""

import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import translation

from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.accounts.scope import acting_oas, may_act_in
from zalohub.core.roles import CS_AGENT, grant_role_permissions
from zalohub.inbox.models import Conversation, OAMembership
from zalohub.partners.models import LinkMethod, Partner, ZaloPartnerLink
from zalohub.zbs.bulk import bulk_start
from zalohub.zbs.models import Template
from zalohub.zbs.services import TemplateActionRefused

pytestmark = pytest.mark.django_db


@pytest.fixture
def oas() -> tuple[OfficialAccount, OfficialAccount, OfficialAccount]:
    app = ZaloApp.objects.create(name="App A", app_id="100", secret_key="s")
    return (
        OfficialAccount.objects.create(app=app, name="Support OA"),
        OfficialAccount.objects.create(app=app, name="Sales OA"),
        OfficialAccount.objects.create(app=app, name="Warranty OA"),
    )


def _also_writes_to(page: str) -> str:
    match = re.search(r"Also writes to:(.*?)</div>", page, re.S)
    return match.group(1) if match else ""


def test_also_writes_to_names_only_the_agents_oas(client, agent, oas) -> None:
    support, sales, _warranty = oas
    son = Partner.objects.create(name="Nguyễn Văn Sơn", is_shadow=False)
    conversations = {}
    for i, oa in enumerate(oas):
        link = ZaloPartnerLink.objects.create(
            partner=son,
            oa=oa,
            app=oa.app,
            zalo_user_id=f"58301746291183401{i}",
            link_method=LinkMethod.MANUAL,
        )
        conversations[oa.pk] = Conversation.objects.create(
            oa=oa, zalo_user_id=link.zalo_user_id, partner_link=link
        )
    OAMembership.objects.create(user=agent, oa=support)
    OAMembership.objects.create(user=agent, oa=sales)
    client.force_login(agent)
    page = client.get(f"/inbox/c/{conversations[support.pk].pk}/").content.decode()
    also = _also_writes_to(page)
    # It should name the customer's other OA the agent answers, and never an OA the
    # agent is not a member of (issue 13 §3).
    assert "Sales OA" in also
    assert "Warranty OA" not in also
    assert "Warranty OA" not in page


def test_acting_oas_is_every_oa_for_an_admin_and_the_memberships_for_an_agent(
    admin, agent, outsider, oas
) -> None:
    support, sales, _warranty = oas
    OAMembership.objects.create(user=agent, oa=support)
    # It should give a Zalo Admin every OA, an agent its memberships, anyone else none.
    assert set(acting_oas(admin)) == set(oas)
    assert list(acting_oas(agent)) == [support]
    assert not acting_oas(outsider).exists()
    assert may_act_in(agent, support.pk) and not may_act_in(agent, sales.pk)
    agent.is_active = False
    assert not acting_oas(agent).exists()


def test_bulk_send_refuses_an_agent_of_another_oa(agent, oas) -> None:
    support, sales, _warranty = oas
    OAMembership.objects.create(user=agent, oa=support)
    template = Template.objects.create(
        oa=sales, name="Xác nhận", body="Đơn <code>", status=Template.Status.APPROVED
    )
    partner = Partner.objects.create(name="Khách")
    # It should refuse before reading Zalo's quota or creating anything (issue 13 §2).
    with translation.override("en"), pytest.raises(TemplateActionRefused, match="members"):
        bulk_start(template=template, partners=[partner], params={}, actor=agent, enqueue=False)
    assert not template.bulks.exists()


def test_migrate_takes_back_a_grant_the_agent_role_no_longer_has() -> None:
    group = Group.objects.get(name=CS_AGENT)
    # An install made before issue 13 had given agents every inbox permission.
    group.permissions.add(*Permission.objects.filter(content_type__app_label="inbox"))
    grant_role_permissions()
    codenames = set(group.permissions.values_list("codename", flat=True))
    # It should leave the agent only the view of conversations in the inbox app.
    assert "add_oamembership" not in codenames
    assert "change_conversation" not in codenames
    assert "view_conversation" in codenames


def test_a_zalo_admin_is_asked_of_the_database_once_per_user_object(
    admin, agent, django_assert_num_queries
) -> None:
    from zalohub.accounts.scope import is_zalo_admin

    admin = type(admin).objects.get(pk=admin.pk)  # fresh objects: as each request loads
    agent = type(agent).objects.get(pk=agent.pk)
    # It should ask once per user object, as a request's checks repeat it (an inbox
    # list delta asked it 8 times), and answer the same each time.
    with django_assert_num_queries(2):
        assert [is_zalo_admin(admin) for _ in range(3)] == [True] * 3
        assert [is_zalo_admin(agent) for _ in range(3)] == [False] * 3
