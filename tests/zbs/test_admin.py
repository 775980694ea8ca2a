"""The ZBS Templates screens and who may use them (the role matrix)."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.zbs.conftest import VALUES, make_template
from zalohub.events.models import ZaloEvent
from zalohub.inbox.models import OAMembership
from zalohub.zbs.models import Template, TemplateSend

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_shows_the_zbs_templates_button_on_the_oa_form_to_admins_only(oa, admin, agent):
    url = reverse("admin:accounts_officialaccount_change", args=[oa.pk])
    page = _client(admin).get(url).content.decode()
    # It should link to the OA's templates by URL name.
    assert 'id="btn-zbs-templates"' in page
    assert f"/admin/zbs/template/?oa__id__exact={oa.pk}" in page


@pytest.mark.parametrize(
    ("persona", "can_send", "can_submit"),
    [
        ("admin", True, True),
        # A CS agent sends approved templates (the inbox's way past a closed reply
        # window) but never submits or changes one.
        ("agent", True, False),
        ("auditor", False, False),
        ("outsider", False, False),
    ],
)
def test_the_role_matrix_of_templates(request, oa, persona, can_send, can_submit, approved, son):
    user = request.getfixturevalue(persona)
    # Every persona acts in this OA, so only the role decides (scoping: test_url_access).
    OAMembership.objects.create(user=user, oa=oa)
    client = _client(user)
    draft = make_template(oa, name="Cập nhật giao hàng mới")
    reading = [
        reverse("admin:zbs_template_changelist") + f"?oa__id__exact={oa.pk}",
        reverse("admin:zbs_template_send", args=[approved.pk]),
    ]
    for url in reading:
        status = client.get(url).status_code
        # It should serve the list and the send page to those who may send, only.
        assert (status == 200) if can_send else (status == 403), (persona, url, status)
    submit = client.post(reverse("admin:zbs_template_submit", args=[draft.pk])).status_code
    dashboard = client.get(reverse("admin:zbs_template_dashboard", args=[oa.pk])).status_code
    # It should let only a Zalo Admin submit a template.
    assert (submit in (200, 302)) if can_submit else (submit == 403), (persona, submit)
    assert (dashboard == 200) if can_send else (dashboard == 403), (persona, dashboard)
    draft.refresh_from_db()
    assert draft.status == (Template.Status.PENDING if can_submit else Template.Status.DRAFT)


def test_it_previews_then_sends_from_the_send_page(admin, approved, son):
    client = _client(admin)
    url = reverse("admin:zbs_template_send", args=[approved.pk])
    form = {
        "partner": son.pk,
        "route_policy": "phone",
        **{f"param_{k}": v for k, v in VALUES.items()},
    }
    preview = client.post(url, {**form, "action": "preview"}).content.decode()
    # It should show the rendered message and the route before anything is sent.
    assert "Đơn hàng DH8821 của Anh Sơn đã được xác nhận." in preview
    assert "84912345678" in preview
    assert not TemplateSend.objects.exists()
    answer = client.post(url, {**form, "action": "send"})
    assert answer.status_code == 302
    assert ZaloEvent.objects.get(event_name="oa_send_template").message.kind == "template"


def test_it_lists_every_lint_problem_on_the_form(admin, oa):
    template = make_template(oa, name="Ngắn", body="Gọi 0912345678 tại https://shop.vn")
    client = _client(admin)
    page = client.get(reverse("admin:zbs_template_lint", args=[template.pk]), follow=True)
    errors = [str(m) for m in page.context["messages"]]
    assert len(errors) >= 4
    assert any("link" in e for e in errors) and any("phone" in e for e in errors)


def test_it_draws_the_dashboard_chart_and_the_starters(admin, oa, approved, son):
    from zalohub.zbs.sending import template_send

    template_send(partner=son, template=approved, params=VALUES)
    client = _client(admin)
    page = client.get(reverse("admin:zbs_template_dashboard", args=[oa.pk])).content.decode()
    # It should draw an inline SVG chart, not a table of numbers.
    assert '<svg class="zbs-chart" id="zbs-sends-chart"' in page
    starters = client.get(reverse("admin:zbs_template_starters", args=[oa.pk]))
    assert starters.status_code == 200 and "starter-otp" in starters.content.decode()
    copied = client.post(reverse("admin:zbs_template_starters", args=[oa.pk]), {"key": "otp"})
    assert copied.status_code == 302
    assert Template.objects.get(starter="otp").status == Template.Status.DRAFT
