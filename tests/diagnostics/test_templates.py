"""The templates check reads zbs's models: rejected / disabled templates with Zalo's
reason and quality, and the daily quota used and remaining."""

import pytest
from django.contrib.auth.models import Group
from django.core import mail

from tests.diagnostics.conftest import refresh
from zalohub.core.roles import ZALO_EVENTS
from zalohub.diagnostics.bundle import bundle_text, escalation_bundle
from zalohub.zbs.models import Template, ZbsSettings

pytestmark = pytest.mark.django_db


@pytest.fixture
def template(connected_oa):
    return Template.objects.create(oa=connected_oa, name="Xac nhan don hang", status="approved")


def test_it_names_a_disabled_template_and_why(
    client, admin, connected_oa, customer_writes, template, django_capture_on_commit_callbacks
):
    customer_writes()
    admin.email = "it@example.com"
    admin.save()
    admin.groups.add(Group.objects.get(name=ZALO_EVENTS))
    assert refresh(connected_oa).check("templates").level == "green"
    Template.objects.filter(pk=template.pk).update(
        status="disabled", disabled_cause="quality", quality="LOW", reject_reason=""
    )
    with django_capture_on_commit_callbacks(execute=True):
        check = refresh(connected_oa).check("templates")
    # It should be red, say which template and why, with its quality, and link to it.
    assert check.level == "red" and check.category == "template"
    facts = dict(check.facts)
    assert "Quality policy" in facts["Xac nhan don hang (Disabled)"]
    assert "quality Low" in facts["Xac nhan don hang (Disabled)"]
    client.force_login(admin)
    [url] = [e.url for e in check.evidence if "/admin/zbs/template/" in e.url]
    assert client.get(url).status_code == 200
    assert any("Templates is red" in m.subject for m in mail.outbox)
    # It should carry the reason and quality into the escalation bundle.
    assert "Xac nhan don hang" in bundle_text(escalation_bundle(oa=connected_oa))
    # The fix: the template is approved again.
    Template.objects.filter(pk=template.pk).update(status="approved", disabled_cause="")
    with django_capture_on_commit_callbacks(execute=True):
        assert refresh(connected_oa).check("templates").level == "green"
    assert any("Templates recovered" in m.subject for m in mail.outbox)


def test_it_shows_a_rejected_template_with_the_reject_reason(connected_oa, template):
    Template.objects.filter(pk=template.pk).update(
        status="rejected", reject_reason="Nội dung quảng cáo trong mẫu giao dịch"
    )
    check = refresh(connected_oa).check("templates")
    # It should warn (a rejected template is not an outage) and quote Zalo's reason.
    assert check.level == "amber"
    assert "Nội dung quảng cáo" in dict(check.facts)["Xac nhan don hang (Rejected)"]


def test_it_shows_the_quota_used_and_remaining(connected_oa):
    ZbsSettings.objects.update_or_create(
        oa=connected_oa, defaults={"daily_quota": 500, "remaining_quota": 120}
    )
    check = refresh(connected_oa).check("templates")
    # It should show the quota, and be red once none is left (quota exhausted).
    assert dict(check.facts)["Quota used / remaining"] == "380 / 120 of 500"
    assert check.level == "green"
    ZbsSettings.objects.filter(oa=connected_oa).update(remaining_quota=0)
    check = refresh(connected_oa).check("templates")
    assert check.level == "red" and "quota is spent" in check.summary
