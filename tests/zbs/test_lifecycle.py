"""A template's life against the sandbox reviewer: Draft → Pending → Approved / Rejected
/ Disabled, Reset to Draft, resubmission, sync, quality and quota (issue 6, §1-§4)."""

import pytest
from django_tasks_db.models import DBTaskResult

from tests.zbs.conftest import make_template, review
from zalohub.events.models import ZaloEvent
from zalohub.sandbox import reviewer
from zalohub.sandbox.world import OA_SUPPORT_ID
from zalohub.zbs.lint import lint_template
from zalohub.zbs.models import Template, ZbsSettings
from zalohub.zbs.services import (
    TemplateActionRefused,
    TemplateLintFailed,
    quota_refresh,
    template_reset_to_draft,
    template_submit,
    templates_sync,
)
from zalohub.zbs.starters import STARTERS, template_from_starter
from zalohub.zbs.tasks import sync_templates

pytestmark = pytest.mark.django_db
Status = Template.Status


def test_it_walks_draft_submit_rejected_reset_submit_approved(oa, sandbox, relay):
    template = make_template(oa)
    assert template.status == Status.DRAFT
    template = template_submit(template=template)
    # It should create the template on Zalo and wait for review.
    assert template.status == Status.PENDING
    assert template.zalo_template_id
    with sandbox.lock:
        assert sandbox.zns.template(OA_SUPPORT_ID, template.zalo_template_id)
    # It should refuse to resubmit a Pending template, saying why.
    with pytest.raises(TemplateActionRefused, match="already waiting"):
        template_submit(template=template)
    review(sandbox, template, "reject", "Mẫu tin bị lặp; Logo không hợp lệ")
    relay("change_template_status")
    template.refresh_from_db()
    # It should show Zalo's Reject Reason.
    assert template.status == Status.REJECTED
    assert template.reject_reason == "Mẫu tin bị lặp; Logo không hợp lệ"
    with pytest.raises(TemplateActionRefused, match="Reset to Draft"):
        template_submit(template=template)
    template = template_reset_to_draft(template=template)
    assert template.status == Status.DRAFT and template.editable
    # It should keep a reworked Draft a Draft when a sync still reads REJECT.
    templates_sync(oa=oa)
    template.refresh_from_db()
    assert template.status == Status.DRAFT
    template.body = "Đơn <order_code> của <customer_name> đã xác nhận, cảm ơn anh chị."
    template.save()
    zalo_id = template.zalo_template_id
    template = template_submit(template=template)
    # It should edit the rejected template on Zalo (same id), not create another.
    assert template.status == Status.PENDING and template.zalo_template_id == zalo_id
    review(sandbox, template, "approve")
    relay("change_template_status")
    template.refresh_from_db()
    assert template.status == Status.APPROVED and template.reject_reason == ""
    # It should never reset (so never edit in place) an Approved template.
    with pytest.raises(TemplateActionRefused):
        template_reset_to_draft(template=template)


def test_it_refuses_a_template_that_breaks_the_rules_listing_every_problem(oa, sandbox):
    template = make_template(
        oa, name="Short", body="Gọi 0912345678 hoặc xem https://shop.vn <nope>", params=[]
    )
    with pytest.raises(TemplateLintFailed) as refused:
        template_submit(template=template)
    fields = [p.field for p in refused.value.problems]
    # It should report all problems at once and leave the template a Draft, unsent.
    assert fields.count("name") == 1 and fields.count("body") == 3
    template.refresh_from_db()
    assert template.status == Status.DRAFT and not template.zalo_template_id
    assert sandbox.call_count("zns.template.create") == 0


def test_it_puts_a_zalo_refusal_back_to_draft(oa, sandbox):
    sandbox.add_fault("zns.template.create", "zalo_error", code=-160, times=1)
    template = make_template(oa)
    with pytest.raises(TemplateActionRefused, match="-160"):
        template_submit(template=template)
    template.refresh_from_db()
    assert template.status == Status.DRAFT


def test_it_syncs_templates_made_outside_the_hub_with_quality_and_params(oa, sandbox):
    template = template_submit(template=make_template(oa))
    review(sandbox, template, "approve")  # no webhook relayed: the sync must notice
    with sandbox.lock:
        sandbox.zns.templates[OA_SUPPORT_ID]["99"] = {
            **sandbox.zns.template(OA_SUPPORT_ID, template.zalo_template_id),
            "templateId": "99",
            "templateName": "Mẫu tạo trên ZBS",
            "templateQuality": "HIGH",
        }
    result = templates_sync(oa=oa)
    # It should update the known one and create the one it did not know.
    assert [t.zalo_template_id for t in result.created] == ["99"]
    template.refresh_from_db()
    assert template.status == Status.APPROVED
    outside = Template.objects.get(zalo_template_id="99")
    assert outside.status == Status.APPROVED and outside.quality == "HIGH"
    assert outside.params[0]["name"] == "order_code" and outside.params[0]["max_length"] == 10
    assert outside.price == "300"


def test_it_disables_for_quality_or_quota_and_says_which(oa, sandbox, relay, approved):
    reviewer.set_quality(sandbox, template_id=approved.zalo_template_id, quality="LOW")
    relay()
    approved.refresh_from_db()
    # It should show the quality, the Disabled status and that quality caused it.
    assert approved.quality == "LOW"
    assert approved.status == Status.DISABLED
    assert approved.disabled_cause == Template.DisabledCause.QUALITY
    other = template_submit(template=make_template(oa, name="Nhắc thanh toán hoá đơn"))
    review(sandbox, other, "approve")
    reviewer.set_template_quota(sandbox, template_id=other.zalo_template_id, daily=0, disable=True)
    relay()
    other.refresh_from_db()
    assert other.status == Status.DISABLED
    assert other.disabled_cause == Template.DisabledCause.QUOTA
    assert other.template_daily_quota == 0
    # It should let a Disabled template go back to Draft.
    assert template_reset_to_draft(template=other).status == Status.DRAFT


def test_it_reads_the_oas_daily_quota_from_the_api_and_events(oa, sandbox, relay):
    reviewer.set_daily_quota(sandbox, oa_id=OA_SUPPORT_ID, remaining=120)
    settings = quota_refresh(oa=oa)
    # It should store Zalo's daily quota and what is left.
    assert (settings.daily_quota, settings.remaining_quota) == (500, 120)
    reviewer.set_daily_quota(sandbox, oa_id=OA_SUPPORT_ID, daily=2000)
    relay("change_oa_daily_quota")
    assert ZbsSettings.objects.get(oa=oa).daily_quota == 2000


def test_it_fetches_an_unknown_template_named_by_a_status_event(
    oa, sandbox, relay, django_capture_on_commit_callbacks
):
    with sandbox.lock:
        sandbox.zns.templates.setdefault(OA_SUPPORT_ID, {})["77"] = {
            "templateId": "77",
            "templateName": "Mẫu tạo trên ZBS",
            "createdTime": 0,
            "status": "PENDING_REVIEW",
            "reason": "",
            "listParams": [],
            "templateQuality": "UNDEFINED",
            "price": "300",
        }
    reviewer.review(sandbox, template_id="77", decision="approve")
    with django_capture_on_commit_callbacks(execute=True):
        relay()
    # It should keep the event (recorded) and queue a sync for the OA, which finds it.
    event = ZaloEvent.objects.get(event_name="change_template_status")
    assert event.outcome == "recorded"
    task = DBTaskResult.objects.get(task_path__endswith="sync_templates")
    assert task.args_kwargs["args"] == [oa.pk]
    sync_templates.call(oa.pk)
    assert Template.objects.get(zalo_template_id="77").status == Status.APPROVED


@pytest.mark.parametrize("key", [s.key for s in STARTERS])
def test_it_copies_each_starter_into_a_draft_that_passes_the_lint(oa, key):
    template = template_from_starter(oa=oa, key=key)
    # It should make an editable Draft that Zalo's rules accept as it is.
    assert template.status == Status.DRAFT and template.starter == key
    assert lint_template(template) == []
