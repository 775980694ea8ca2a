"""Data-removal requests in the admin: the list (waiting ones first), the request's form
with the audit of what was removed, and the confirmation page a Zalo Admin uses."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zalohub.core.admin_links import ReadonlyLinksMixin
from zalohub.core.records import RecordAdminMixin
from zalohub.core.removal import report_labels
from zalohub.events.models import Message
from zalohub.partners.models import ZaloPartnerLink
from zalohub.privacy.models import DataRemovalRequest
from zalohub.privacy.services import RemovalRefused, removal_confirm, removal_dismiss

PARTNER_OUTCOMES = {
    "anonymized": gettext_lazy("anonymized (no other OA links to it)"),
    "kept": gettext_lazy("kept: other OAs link to it"),
}


def report_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    # Each app labels the counts its remover writes (core.removal).
    for key, label in report_labels().items():
        if key in report:
            value = report[key]
            shown = PARTNER_OUTCOMES.get(value, value) if key == "partner" else value
            rows.append((str(label), str(shown)))
    return rows


@admin.register(DataRemovalRequest)
class DataRemovalRequestAdmin(ReadonlyLinksMixin, RecordAdminMixin, admin.ModelAdmin):
    list_display = ["requested_at", "status", "oa", "subject", "decided_at", "decided_by"]
    list_filter = ["status", "oa"]
    readonly_fields = [
        "status",
        "oa",
        "subject",
        "subject_ref",
        "link",
        "event",
        "requested_at",
        "decided_at",
        "decided_by",
        "report_table",
    ]
    fields = tuple(readonly_fields)

    @admin.display(description=gettext_lazy("person"))
    def subject(self, obj: DataRemovalRequest) -> str:
        if obj.status == DataRemovalRequest.Status.REMOVED:
            return _("(removed)")
        return obj.subject_shown if obj.subject_name else obj.zalo_user_id

    @admin.display(description=gettext_lazy("what was removed"))
    def report_table(self, obj: DataRemovalRequest) -> str:
        rows = report_rows(obj.report or {})
        if not rows:
            return "—"
        return format_html_join("", "<div><b>{}</b>: {}</div>", rows)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the audit stays

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/confirm/", wrap(self.confirm_view), name="privacy_removal_confirm"),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        context = dict(extra_context or {})
        pending = obj is not None and obj.status == DataRemovalRequest.Status.PENDING
        if pending and self.has_change_permission(request, obj):
            assert obj is not None
            context["confirm_url"] = reverse("admin:privacy_removal_confirm", args=[obj.pk])
        return super().change_view(request, object_id, form_url, context)

    def _preview(self, obj: DataRemovalRequest) -> dict[str, Any]:
        messages_of = Message.objects.filter(oa_id=obj.oa_id, zalo_user_id=obj.zalo_user_id)
        counts = messages_of.aggregate(n=Count("pk"), texts=Count("pk", filter=~Q(text="")))
        link = ZaloPartnerLink.objects.filter(
            oa_id=obj.oa_id, zalo_user_id=obj.zalo_user_id
        ).first()
        others = (
            ZaloPartnerLink.objects.filter(partner_id=link.partner_id).exclude(pk=link.pk).count()
            if link
            else 0
        )
        return {"messages": counts["n"], "texts": counts["texts"], "link": link, "others": others}

    def confirm_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = get_object_or_404(DataRemovalRequest, pk=pk)
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        back = redirect(reverse("admin:privacy_dataremovalrequest_change", args=[obj.pk]))
        if request.method == "POST":
            try:
                if request.POST.get("decision") == "dismiss":
                    removal_dismiss(request=obj, actor=request.user)
                    self.message_user(request, _("The request was dismissed."), messages.SUCCESS)
                else:
                    removal_confirm(request=obj, actor=request.user)
                    self.message_user(
                        request,
                        _("The person's data was removed; the request keeps what was removed."),
                        messages.SUCCESS,
                    )
            except RemovalRefused as exc:
                self.message_user(request, str(exc), messages.ERROR)
            return back
        if obj.status != DataRemovalRequest.Status.PENDING:
            return back
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": obj,
            "preview": self._preview(obj),
            "title": _("Confirm the data removal"),
        }
        return TemplateResponse(request, "admin/privacy/dataremovalrequest/confirm.html", context)

    def get_queryset(self, request: HttpRequest) -> QuerySet[DataRemovalRequest]:
        return super().get_queryset(request).select_related("oa", "decided_by")
