"""A template's life: submit to Zalo, reset to draft, sync from Zalo, the OA's quota.

Every state change checks the current state with a conditional UPDATE, so two admins
(or an admin and a webhook) acting at once cannot both win. Zalo is called outside any
transaction; what it answers is stored afterwards.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zalohub.accounts.models import OfficialAccount
from zalohub.accounts.signals import announce_fix
from zalohub.accounts.tokens import TokenUnavailable, call_with_token
from zalohub.core.stored_text import reason_fields
from zalohub.zalo import ZaloError, call_context, get_client
from zalohub.zalo.bodies import TemplateButton, TemplateParam, TemplateRequest
from zalohub.zbs import hooks
from zalohub.zbs.lint import Problem, lint_template, type_limit
from zalohub.zbs.models import Template, ZbsSettings

logger = logging.getLogger(__name__)
Status = Template.Status
# Zalo's statuses (API.md §4.3) as the seed names them; DRAFT appears in status webhooks.
FROM_ZALO = {
    "ENABLE": Status.APPROVED,
    "PENDING_REVIEW": Status.PENDING,
    "REJECT": Status.REJECTED,
    "DISABLE": Status.DISABLED,
    "DELETE": Status.DISABLED,
    "DRAFT": Status.DRAFT,
}


class TemplateActionRefused(Exception):
    """The action does not apply now; the text says why, for the person."""


class TemplateLintFailed(TemplateActionRefused):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(_("The template breaks Zalo's rules: ") + " ".join(map(str, problems)))
        self.problems = problems


def oa_settings(oa: OfficialAccount) -> ZbsSettings:
    return ZbsSettings.objects.get_or_create(oa=oa)[0]


def _zalo_call(oa: OfficialAccount, ref_id: object, call: Any) -> Any:
    with call_context(oa=oa.pk, app=oa.app_id, ref_type="zbs.template", ref_id=ref_id):
        return call_with_token(oa, call)


def zalo_payload(template: Template) -> dict[str, Any]:
    """The create/edit body Zalo takes (API.md §4.3)."""
    rejected = bool(template.zalo_template_id) and template.zalo_status == "REJECT"
    return TemplateRequest(
        name=template.name,
        template_type=int(template.template_type),
        tag=int(template.tag),
        body_text=template.body,
        note=template.note,
        tracking_id=f"tpl-{template.pk}",
        params=[
            TemplateParam(
                type=int(p.get("type") or 5),
                name=p.get("name"),
                sample_value=str(p.get("sample") or ""),
                max_length=int(p.get("max_length") or type_limit(p)),
            )
            for p in template.params
        ],
        buttons=[
            TemplateButton(
                type=int(b.get("type") or 1), title=b.get("title"), content=b.get("content")
            )
            for b in template.buttons
        ],
        # Only a rejected template is edited in place; any other is created anew.
        template_id=template.zalo_template_id if rejected else "",
    ).body()


def template_submit(*, template: Template) -> Template:
    """Draft → Pending: lint, then create (or, for a rejected one, edit) it on Zalo."""
    template.refresh_from_db()
    if template.status == Status.PENDING:
        raise TemplateActionRefused(
            _("“%s” is already waiting for Zalo's review; wait for Approved or Rejected.")
            % template.name
        )
    if template.status != Status.DRAFT:
        raise TemplateActionRefused(
            _(
                "Only a Draft can be submitted; “%(name)s” is %(status)s. "
                "Press Reset to Draft first."
            )
            % {"name": template.name, "status": template.get_status_display()}
        )
    if problems := lint_template(template):
        raise TemplateLintFailed(problems)
    # Claimed first, so a second press (or a second admin) cannot submit it twice.
    if not Template.objects.filter(pk=template.pk, status=Status.DRAFT).update(
        status=Status.PENDING
    ):
        raise TemplateActionRefused(_("Someone else changed this template; reload it."))
    payload = zalo_payload(template)
    api = get_client().zns
    call = api.edit_template if "template_id" in payload else api.create_template
    try:
        data = _zalo_call(
            template.oa, template.pk, lambda token: call(access_token=token, payload=payload)
        )
    except (ZaloError, TokenUnavailable) as exc:
        Template.objects.filter(pk=template.pk, status=Status.PENDING).update(status=Status.DRAFT)
        raise TemplateActionRefused(_("Zalo refused the template: %s") % exc) from None
    zalo_id = str(data.get("template_id") or payload.get("template_id") or "")
    Template.objects.filter(pk=template.pk).update(
        zalo_template_id=zalo_id,
        zalo_status=str(data.get("template_status") or "PENDING_REVIEW"),
        reject_reason="",
        disabled_cause="",
        price=str(data.get("price") or template.price or ""),
        submitted_at=timezone.now(),
    )
    template.refresh_from_db()
    return template


def template_reset_to_draft(*, template: Template) -> Template:
    """Rejected / Disabled → Draft, so it can be edited and submitted again."""
    reset = Template.objects.filter(
        pk=template.pk, status__in=[Status.REJECTED, Status.DISABLED]
    ).update(status=Status.DRAFT)
    template.refresh_from_db()
    if not reset:
        raise TemplateActionRefused(
            _("Only a Rejected or Disabled template can be reset to Draft; “%(name)s” is %(s)s.")
            % {"name": template.name, "s": template.get_status_display()}
        )
    return template


def apply_zalo_status(
    template: Template, zalo_status: str, *, reason: str = "", when: datetime | None = None
) -> bool:
    """Zalo says the template is now ``zalo_status``; a local Draft being reworked stays
    Draft (Zalo still calls it rejected until it is resubmitted)."""
    status = FROM_ZALO.get(zalo_status)
    if status is None:
        return False
    fields: dict[str, Any] = {"zalo_status": zalo_status}
    if status == Status.REJECTED:
        fields["reject_reason"] = reason
    if status == Status.DISABLED:
        fields["disabled_cause"] = disabled_cause(template, zalo_status, reason)
        fields["reject_reason"] = reason
    if status in (Status.APPROVED, Status.REJECTED):
        fields["reviewed_at"] = when or timezone.now()
    if status == Status.APPROVED:
        fields["reject_reason"] = ""
        fields["disabled_cause"] = ""
    rows = Template.objects.filter(pk=template.pk)
    if status != Status.DRAFT and zalo_status in ("REJECT", "DISABLE", "DELETE"):
        # A Draft being reworked after Reset to Draft stays a Draft.
        rows = rows.exclude(status=Status.DRAFT)
    previous = template.status
    moved = rows.exclude(status=status).update(status=status)
    Template.objects.filter(pk=template.pk).update(**fields)
    template.refresh_from_db()
    if moved:
        hooks.template_changed(template, "status", previous, template.status)
    return bool(moved)


def disabled_cause(template: Template, zalo_status: str, reason: str) -> str:
    cause = Template.DisabledCause
    text = reason.lower()
    if zalo_status == "DELETE":
        return cause.DELETED
    if template.quality == "LOW" or "chất lượng" in text or "quality" in text:
        return cause.QUALITY
    if template.template_daily_quota == 0 or "hạn mức" in text or "quota" in text:
        return cause.QUOTA
    return cause.OTHER


def _params_from_zalo(listed: list[dict[str, Any]], known: list[dict]) -> list[dict]:
    by_name = {p.get("name"): p for p in known}
    params = []
    for item in listed:
        name = str(item.get("name") or "")
        mine = dict(by_name.get(name) or {"name": name, "type": 5, "sample": ""})
        mine.update(
            max_length=int(item.get("maxLength") or type_limit(mine)),
            min_length=int(item.get("minLength") or 0),
            require=bool(item.get("require", True)),
            number=item.get("type") == "NUMBER",
        )
        params.append(mine)
    return params


@dataclass
class SyncResult:
    created: list[Template] = field(default_factory=list)
    updated: list[Template] = field(default_factory=list)


def template_apply_detail(template: Template, detail: dict[str, Any]) -> Template:
    status = str(detail.get("status") or "")
    quality_before = template.quality
    with transaction.atomic():
        Template.objects.filter(pk=template.pk).update(
            quality=str(detail.get("templateQuality") or template.quality),
            price=str(detail.get("price") or detail.get("price_sdt") or template.price),
            preview_url=str(detail.get("previewUrl") or "")[:500]
            if str(detail.get("previewUrl") or "").startswith("http")
            else template.preview_url,
            params=_params_from_zalo(detail.get("listParams") or [], template.params)
            if detail.get("listParams") is not None and not template.editable
            else template.params,
            synced_at=timezone.now(),
        )
        template.refresh_from_db()
        hooks.template_changed(template, "quality", quality_before, template.quality)
        apply_zalo_status(template, status, reason=str(detail.get("reason") or ""))
    return template


def templates_sync(*, oa: OfficialAccount) -> SyncResult:
    """Read every template of the OA from Zalo (list, then each one's detail)."""
    api = get_client().zns
    result = SyncResult()
    listed: list[dict[str, Any]] = []
    offset = 0
    while True:
        page, total = _zalo_call(
            oa,
            "",
            lambda token, o=offset: api.list_templates(access_token=token, offset=o, limit=100),
        )
        listed += page
        offset += len(page)
        if not page or offset >= total:
            break
    for item in listed:
        zalo_id = str(item.get("templateId") or "")
        if not zalo_id:
            continue
        template, created = Template.objects.get_or_create(
            oa=oa,
            zalo_template_id=zalo_id,
            defaults={
                "name": str(item.get("templateName") or zalo_id)[:60],
                "status": FROM_ZALO.get(str(item.get("status")), Status.PENDING),
            },
        )
        detail = _zalo_call(
            oa,
            template.pk,
            lambda token, z=zalo_id: api.template_detail(access_token=token, template_id=z),
        )
        template_apply_detail(template, detail or item)
        (result.created if created else result.updated).append(template)
    ZbsSettings.objects.filter(pk=oa_settings(oa).pk).update(
        templates_synced_at=timezone.now(), **reason_fields("last_sync_error", None)
    )
    return result


def quota_refresh(*, oa: OfficialAccount) -> ZbsSettings:
    """The OA's daily quota and what is left today, from Zalo's quota endpoint."""
    data = _zalo_call(oa, "", lambda token: get_client().zns.quota(access_token=token))
    return quota_store(oa=oa, daily=data.get("dailyQuota"), remaining=data.get("remainingQuota"))


def quota_store(*, oa: OfficialAccount, daily: Any = None, remaining: Any = None) -> ZbsSettings:
    row = oa_settings(oa)
    fields: dict[str, Any] = {"quota_synced_at": timezone.now()}
    for name, value in (("daily_quota", daily), ("remaining_quota", remaining)):
        try:
            if value not in (None, ""):
                fields[name] = max(0, int(str(value)))
        except ValueError:
            continue
    before = (row.daily_quota, row.remaining_quota)
    ZbsSettings.objects.filter(pk=row.pk).update(**fields)
    row.refresh_from_db()
    if (row.daily_quota, row.remaining_quota) != before:
        hooks.quota_changed(oa_id=oa.pk, daily=row.daily_quota, remaining=row.remaining_quota)
    if row.remaining_quota:  # quota left (again): a "quota spent" alert may clear
        announce_fix(oa_id=oa.pk, reason="quota")
    return row
