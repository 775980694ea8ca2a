"""The ZBS Templates buttons: Lint, Submit to Zalo, Reset to Draft, Send (with preview),
Bulk send (with progress), Sync from Zalo, starters and the dashboard."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from zalohub.accounts.models import OfficialAccount
from zalohub.accounts.scope import acting_oas, scope_to_oas
from zalohub.accounts.tokens import TokenUnavailable
from zalohub.partners.models import Partner
from zalohub.zalo import ZaloError
from zalohub.zbs.bulk import bulk_progress, bulk_start
from zalohub.zbs.dashboard import dashboard_for
from zalohub.zbs.forms import template_from_post
from zalohub.zbs.lint import lint_template
from zalohub.zbs.mapping import (
    CONSTANT,
    PREVIEW_SIZE,
    bulk_preview,
    mapping_from,
    source_choices,
)
from zalohub.zbs.models import BulkSend, RoutePolicy, Template
from zalohub.zbs.routes import SendProblem, check_params, choose_route
from zalohub.zbs.routes import render as render_text
from zalohub.zbs.sending import TemplateSendRefused, template_send
from zalohub.zbs.services import (
    TemplateActionRefused,
    TemplateLintFailed,
    oa_settings,
    quota_refresh,
    template_reset_to_draft,
    template_submit,
    templates_sync,
)
from zalohub.zbs.starters import STARTERS, template_from_starter


def _need(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(f"zbs.{perm}"):
        raise PermissionDenied


# Every id below is looked up inside the OAs the user acts in: another OA's template,
# bulk or OA is not found (404), so a guessed id confirms nothing (issue 13 §2).
def _template(request: HttpRequest, pk: int) -> Template:
    return get_object_or_404(
        scope_to_oas(Template.objects.select_related("oa"), request.user), pk=pk
    )


def _oa(request: HttpRequest, pk: int) -> OfficialAccount:
    return get_object_or_404(acting_oas(request.user), pk=pk)


def _change_url(template: Template) -> str:
    return reverse("admin:zbs_template_change", args=[template.pk])


def _list_url(oa_pk: int) -> str:
    return reverse("admin:zbs_template_changelist") + f"?oa__id__exact={oa_pk}"


def _page(request: HttpRequest, name: str, title: str, **context: Any) -> HttpResponse:
    context = {
        **admin.site.each_context(request),
        "opts": Template._meta,
        "title": title,
        **context,
    }
    return render(request, f"admin/zbs/{name}.html", context)


@require_POST
def submit(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, "change_template")
    template = _template(request, pk)
    try:
        template_submit(template=template)
    except TemplateLintFailed as exc:
        for problem in exc.problems:
            messages.error(request, str(problem))
    except TemplateActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Submitted to Zalo: the template is Pending review."))
    return HttpResponseRedirect(_change_url(template))


@require_POST
def reset(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, "change_template")
    template = _template(request, pk)
    try:
        template_reset_to_draft(template=template)
    except TemplateActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Back to Draft: edit it, then Submit to Zalo again."))
    return HttpResponseRedirect(_change_url(template))


def lint(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, "view_template")
    template = _template(request, pk)
    problems = lint_template(template)
    for problem in problems:
        messages.error(request, str(problem))
    if not problems:
        messages.success(request, _("No problems: the template follows Zalo's rules."))
    return HttpResponseRedirect(_change_url(template))


def _partners(request: HttpRequest, oa: OfficialAccount) -> list[Partner]:
    candidates = (
        Partner.objects.filter(merged_into__isnull=True)
        .filter(Q(zalo_links__oa=oa) | Q(phones__isnull=False))
        .distinct()
    )
    # Only partners this user may see: an agent's are those linked to one of its OAs.
    visible = scope_to_oas(candidates, request.user, field="zalo_links__oa")
    return list(visible.order_by("name")[:500])


def _params_from(request: HttpRequest, template: Template) -> dict[str, str]:
    return {
        str(p["name"]): request.POST.get(f"param_{p['name']}", "").strip() for p in template.params
    }


def send(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, "send_template")
    template = _template(request, pk)
    partners = _partners(request, template.oa)
    context: dict[str, Any] = {
        "template": template,
        "partners": partners,
        "policies": RoutePolicy.choices,
        "default_policy": oa_settings(template.oa).route_policy,
        "values": {},
    }
    if request.method == "POST":
        params = _params_from(request, template)
        policy = request.POST.get("route_policy") or context["default_policy"]
        partner = next((p for p in partners if str(p.pk) == request.POST.get("partner")), None)
        context.update(values=params, policy=policy, partner=partner)
        if partner is None:
            messages.error(request, _("Choose a partner."))
        elif request.POST.get("action") == "send":
            try:
                template_send(
                    partner=partner,
                    template=template,
                    params=params,
                    route_policy=policy,
                    actor=request.user,
                )
            except TemplateSendRefused as exc:
                messages.error(request, _("Not sent: %s") % exc.message)
            else:
                messages.success(
                    request,
                    _("Queued for %s: follow it on the Zalo Events list.") % partner.name,
                )
                return HttpResponseRedirect(_change_url(template))
        else:
            try:
                if template.status != Template.Status.APPROVED:
                    raise SendProblem(_("Only an Approved template can be sent."))
                values = check_params(template, params)
                route = choose_route(oa=template.oa, partner=partner, policy=policy)
                context.update(preview=render_text(template, values), route=route)
            except SendProblem as exc:
                messages.error(request, exc.message)
    values = context["values"]
    context["fields"] = [(p, values.get(str(p.get("name")), "")) for p in template.params]
    return _page(request, "send", _("Send “%s”") % template.name, **context)


def bulk(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, "send_template")
    template = _template(request, pk)
    partners = _partners(request, template.oa)
    context: dict[str, Any] = {
        "template": template,
        "partners": partners,
        "policies": RoutePolicy.choices,
        "sources": source_choices(partners),
        "chosen": set(),
        "posted": {},
    }
    if request.method == "POST":
        chosen = [p for p in partners if str(p.pk) in request.POST.getlist("partners")]
        constants, mapping = mapping_from(request.POST, template)
        context.update(chosen={p.pk for p in chosen}, posted=request.POST)
        if request.POST.get("action") == "start":
            try:
                job = bulk_start(
                    template=template,
                    partners=chosen,
                    params=constants,
                    mapping=mapping,
                    route_policy=request.POST.get("route_policy", ""),
                    actor=request.user,
                )
            except TemplateActionRefused as exc:
                messages.error(request, str(exc))
            else:
                url = reverse("admin:zbs_template_bulk_progress", args=[job.pk])
                return HttpResponseRedirect(url)
        elif not chosen:
            messages.error(request, _("Choose at least one partner."))
        else:
            # The first recipients' messages, as they will read them, before anything goes.
            context["preview"] = bulk_preview(
                template=template, partners=chosen, constants=constants, mapping=mapping
            )
            context["preview_more"] = max(0, len(chosen) - PREVIEW_SIZE)
    context["rows"] = [
        (
            param,
            context["posted"].get(f"source_{param.get('name')}", CONSTANT),
            context["posted"].get(f"param_{param.get('name')}", ""),
        )
        for param in template.params
    ]
    return _page(request, "bulk", _("Bulk send “%s”") % template.name, **context)


def bulk_progress_view(request: HttpRequest, bulk_id: int) -> HttpResponse:
    _need(request, "view_template")
    jobs = scope_to_oas(BulkSend.objects.select_related("template"), request.user)
    job = get_object_or_404(jobs, pk=bulk_id)
    context = {
        "bulk": job,
        "template": job.template,
        "progress": bulk_progress(bulk=job),
        "rows": job.recipients.select_related("partner", "send__message"),
        "running": job.status == BulkSend.Status.RUNNING,
    }
    return _page(request, "bulk_progress", _("Bulk send progress"), **context)


@require_POST
def sync(request: HttpRequest, oa_pk: int) -> HttpResponse:
    _need(request, "change_template")
    oa = _oa(request, oa_pk)
    try:
        result = templates_sync(oa=oa)
        quota_refresh(oa=oa)
    except (ZaloError, TokenUnavailable) as exc:
        messages.error(request, _("Zalo could not be read: %s") % exc)
    else:
        messages.success(
            request,
            _("Synced from Zalo: %(new)d new, %(old)d updated.")
            % {"new": len(result.created), "old": len(result.updated)},
        )
    return HttpResponseRedirect(_list_url(oa.pk))


def starters(request: HttpRequest, oa_pk: int) -> HttpResponse:
    _need(request, "add_template")
    oa = _oa(request, oa_pk)
    if request.method == "POST" and request.POST.get("key") in {s.key for s in STARTERS}:
        template = template_from_starter(oa=oa, key=request.POST["key"])
        messages.success(request, _("Copied into a Draft: adjust it, then Submit to Zalo."))
        return HttpResponseRedirect(_change_url(template))
    return _page(request, "starters", _("Starter templates"), oa=oa, starters=STARTERS)


def dashboard(request: HttpRequest, oa_pk: int) -> HttpResponse:
    _need(request, "view_template")
    oa = _oa(request, oa_pk)
    return _page(
        request, "dashboard", _("ZBS quota and quality"), oa=oa, board=dashboard_for(oa=oa)
    )


@require_POST
def lint_check(request: HttpRequest) -> JsonResponse:
    """The template form as typed so far, linted: ``{"problems": [{field, message}]}``."""
    if not (
        request.user.has_perm("zbs.add_template") or request.user.has_perm("zbs.change_template")
    ):
        raise PermissionDenied
    problems = lint_template(template_from_post(request.POST))
    return JsonResponse({"problems": [{"field": p.field, "message": p.message} for p in problems]})
