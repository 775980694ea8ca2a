"""The health page (one card per OA, red first), the escalation bundle, and incidents."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from zalohub.accounts.models import OfficialAccount
from zalohub.apilog.models import ApiLog
from zalohub.core.admin_links import ReadonlyLinksMixin
from zalohub.diagnostics.bundle import bundle_json, bundle_text, escalation_bundle
from zalohub.diagnostics.categories import label
from zalohub.diagnostics.checks import CheckResult
from zalohub.diagnostics.checks.webhook import latest_probe, window_label
from zalohub.diagnostics.models import (
    LEVEL_RANK,
    HealthSnapshot,
    Incident,
    Level,
    WebhookProbe,
)
from zalohub.diagnostics.probe import webhook_selftest, zalo_can_deliver_on_request
from zalohub.diagnostics.registry import registered
from zalohub.diagnostics.services import health_refresh
from zalohub.diagnostics.trend import HEIGHT, WIDTH, trend
from zalohub.events.models import ZaloEvent

SUBJECTS = {"oa": OfficialAccount, "event": ZaloEvent, "apilog": ApiLog}


def _card(snapshot: HealthSnapshot) -> dict[str, Any]:
    checks = [CheckResult.from_dict(c) for c in snapshot.checks]
    checks.sort(key=lambda c: LEVEL_RANK[Level(c.level)])
    return {
        "oa": snapshot.oa,
        "level": snapshot.level,
        "level_label": Level(snapshot.level).label,
        "computed_at": snapshot.computed_at,
        "checks": [{"c": c, "category_label": label(c.category)} for c in checks],
        "trend": trend(oa=snapshot.oa),
        "probe": latest_probe(snapshot.oa),
    }


def _selftest_explained() -> str:
    """What the self-test checks, in plain words, for the card."""
    if zalo_can_deliver_on_request():
        text = _(
            "The webhook self-test asks Zalo to deliver a test event to the webhook URL Zalo "
            "holds for this app, and checks that it arrives here: it proves Zalo reaches "
            "the hub. Window: %s."
        )
    else:
        text = _(
            "Zalo takes no request for a test delivery, so the webhook self-test checks that "
            "a genuine (signed) delivery from Zalo arrived within the window: %s."
        )
    return text % window_label()


@admin.register(HealthSnapshot)
class HealthAdmin(ReadonlyLinksMixin, admin.ModelAdmin):
    """Its list is the health page; nobody adds or edits a snapshot by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("refresh/", wrap(self.refresh_view), name="diagnostics_health_refresh"),
            path(
                "<int:oa_id>/selftest/",
                wrap(self.selftest_view),
                name="diagnostics_health_selftest",
            ),
            path(
                "escalation/<str:kind>/<int:pk>/",
                wrap(self.escalation_view),
                name="diagnostics_escalation",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        oas = OfficialAccount.objects.select_related("app").order_by("name")
        if request.GET.get("oa", "").isdigit():
            oas = oas.filter(pk=int(request.GET["oa"]))
        waiting = set(
            WebhookProbe.objects.filter(oa__in=oas, pending=True).values_list("oa_id", flat=True)
        )
        snapshots = {
            s.oa_id: s for s in HealthSnapshot.objects.filter(oa__in=oas).exclude(oa__in=waiting)
        }
        for oa in oas:
            # Never computed yet, or a self-test was waiting for Zalo: compute it now.
            if oa.pk not in snapshots:
                health_refresh(oa=oa)
                snapshots[oa.pk] = HealthSnapshot.objects.get(oa=oa)
        for snapshot in snapshots.values():
            snapshot.oa = next(o for o in oas if o.pk == snapshot.oa_id)
        cards = sorted(
            (_card(s) for s in snapshots.values()),
            key=lambda c: (LEVEL_RANK[Level(c["level"])], c["oa"].name),
        )
        context = {
            **self.admin_site.each_context(request),
            "title": _("OA health"),
            "opts": self.model._meta,
            "cards": cards,
            "chart_width": WIDTH,
            "chart_height": HEIGHT,
            "can_selftest": request.user.has_perm("diagnostics.run_selftest"),
            "selftest_explained": _selftest_explained(),
            "open_incidents": Incident.objects.filter(resolved_at__isnull=True).count(),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "diagnostics/health.html", context)

    def _back(self, request: HttpRequest) -> HttpResponseRedirect:
        url = reverse("admin:diagnostics_healthsnapshot_changelist")
        if request.POST.get("oa", "").isdigit():
            url += f"?oa={request.POST['oa']}"
        return HttpResponseRedirect(url)

    def refresh_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not self.has_view_permission(request):
            raise PermissionDenied
        oas = OfficialAccount.objects.select_related("app")
        if request.POST.get("oa", "").isdigit():
            oas = oas.filter(pk=int(request.POST["oa"]))
        for oa in oas:
            health_refresh(oa=oa)
        messages.success(
            request, _("Health recomputed at %s.") % timezone.localtime().strftime("%H:%M:%S")
        )
        return self._back(request)

    def selftest_view(self, request: HttpRequest, oa_id: int) -> HttpResponse:
        if request.method != "POST" or not request.user.has_perm("diagnostics.run_selftest"):
            raise PermissionDenied
        oa = get_object_or_404(OfficialAccount.objects.select_related("app"), pk=oa_id)
        probe = webhook_selftest(oa=oa)  # never waits here: see probe.py
        health_refresh(oa=oa)  # settles the probe if Zalo's answer is already known
        probe.refresh_from_db()
        if probe.pending:
            messages.info(
                request,
                _(
                    "Webhook self-test: Zalo was asked to deliver a test event to the webhook "
                    "URL it holds for %(oa)s. The card shows whether it arrived."
                )
                % {"oa": oa.name},
            )
        elif probe.arrived:
            messages.success(request, _("Webhook self-test passed: %s") % probe.result_text)
        else:
            messages.error(request, _("Webhook self-test failed: %s") % probe.result_text)
        return self._back(request)

    def escalation_view(self, request: HttpRequest, kind: str, pk: int) -> HttpResponse:
        if kind not in SUBJECTS or not self.has_view_permission(request):
            raise Http404 if kind not in SUBJECTS else PermissionDenied
        subject = get_object_or_404(SUBJECTS[kind], pk=pk)
        bundle = escalation_bundle(
            oa=subject if isinstance(subject, OfficialAccount) else None,
            event=subject if isinstance(subject, ZaloEvent) else None,
            api_log=subject if isinstance(subject, ApiLog) else None,
        )
        if request.GET.get("format") == "json":
            stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
            response = HttpResponse(bundle_json(bundle), content_type="application/json")
            response["Content-Disposition"] = (
                f'attachment; filename="zalohub-escalation-{kind}-{pk}-{stamp}.json"'
            )
            return response
        context = {
            **self.admin_site.each_context(request),
            "title": _("Escalation summary"),
            "opts": self.model._meta,
            "text": bundle_text(bundle),
            "json_url": f"{request.path}?format=json",
            "bundle": bundle,
        }
        return TemplateResponse(request, "diagnostics/escalation.html", context)


class CheckFilter(admin.SimpleListFilter):
    """Incidents by check, named by the check's title (the key is a code)."""

    title = _lazy("check")
    parameter_name = "check_key"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [(check.key, check.title) for check in registered()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(check_key=self.value()) if self.value() else queryset


@admin.register(Incident)
class IncidentAdmin(ReadonlyLinksMixin, admin.ModelAdmin):
    list_display = [
        "opened_at",
        "oa",
        "check_title",
        "category",
        "summary_in_language",
        "resolved_at",
    ]
    list_filter = [CheckFilter, "category", "oa"]
    readonly_fields = [
        "oa",
        "check_title",
        "category",
        "summary_in_language",
        "next_step_in_language",
        "opened_at",
        "resolved_at",
        "alerted_at",
        "recovery_alerted_at",
    ]
    fields = tuple(readonly_fields)

    @admin.display(description=_lazy("check"), ordering="check_key")
    def check_title(self, obj: Incident) -> str:
        return obj.check_title

    @admin.display(description=_lazy("summary"))
    def summary_in_language(self, obj: Incident) -> str:
        return obj.summary_text

    @admin.display(description=_lazy("next step"))
    def next_step_in_language(self, obj: Incident) -> str:
        return obj.next_step_text

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
