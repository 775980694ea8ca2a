import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zalohub.events.actions import (
    ActionRefused,
    event_mark_error,
    event_retry_processing,
    message_resend,
)
from zalohub.events.models import (
    EventAttempt,
    ProcessingState,
    RejectedRequest,
    ZaloEvent,
    ZaloState,
)


class QuickFilter(admin.SimpleListFilter):
    title = gettext_lazy("quick filter")
    parameter_name = "quick"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("errors", _("Errors")), ("failed", _("Failed Deliveries"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "errors":
            return queryset.filter(processing_state=ProcessingState.ERROR)
        if self.value() == "failed":
            return queryset.filter(message__zalo_state=ZaloState.FAILED)
        return queryset


class ZaloStateFilter(admin.SimpleListFilter):
    title = gettext_lazy("Zalo State")
    parameter_name = "zalo_state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return ZaloState.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(message__zalo_state=self.value()) if self.value() else queryset


class AttemptInline(admin.TabularInline):
    model = EventAttempt
    extra = 0
    can_delete = False
    fields = [
        "number",
        "started_at",
        "call_started_at",
        "finished_at",
        "result",
        "error_code",
        "error_message",
        "zalo_msg_id",
        "worker",
    ]
    readonly_fields = fields
    verbose_name_plural = gettext_lazy("History of attempts")

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def _badge(kind: str, value: str, label: str) -> str:
    return format_html(
        '<span class="zh-badge zh-{}-{}">{}</span>', kind, value or "none", label or "—"
    )


@admin.register(ZaloEvent)
class ZaloEventAdmin(admin.ModelAdmin):
    """Visible only to users granted the Zalo Events role (there is no other way in)."""

    list_display = [
        "received_at",
        "event_name",
        "direction",
        "oa",
        "zalo_user_id",
        "processing_state_badge",
        "zalo_state_badge",
        "outcome",
        "error_category",
    ]
    list_filter = [
        QuickFilter,
        "processing_state",
        ZaloStateFilter,
        "oa",
        "direction",
        "error_category",
        "event_name",
    ]
    search_fields = ["zalo_user_id", "event_name", "dedupe_key", "error_message", "message__text"]
    list_select_related = ["oa", "message"]
    date_hierarchy = "received_at"
    actions = ["retry_processing", "resend", "mark_error"]
    inlines = [AttemptInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "event_name",
                    "direction",
                    "oa",
                    "app",
                    "zalo_user_id",
                    "processing_state_badge",
                    "zalo_state_badge",
                    "outcome",
                ]
            },
        ),
        (gettext_lazy("Error"), {"fields": ["error_category", "error_message", "error_at"]}),
        (gettext_lazy("Message"), {"fields": ["message_text", "message_failure"]}),
        (
            gettext_lazy("Delivery"),
            {
                "fields": [
                    "received_at",
                    "event_time",
                    "processed_at",
                    "attempts",
                    "num_retry",
                    "signature_variant",
                    "dedupe_key",
                ]
            },
        ),
        (gettext_lazy("Raw payload"), {"fields": ["payload", "headers"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: ZaloEvent | None = None) -> list:
        return [f for fs in self.fieldsets for f in fs[1]["fields"]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ZaloEvent | None = None) -> bool:
        return False

    @admin.display(description=gettext_lazy("Processing State"), ordering="processing_state")
    def processing_state_badge(self, obj: ZaloEvent) -> str:
        return _badge("ps", obj.processing_state, obj.get_processing_state_display())

    @admin.display(description=gettext_lazy("Zalo State"))
    def zalo_state_badge(self, obj: ZaloEvent) -> str:
        state = obj.zalo_state
        return _badge("zs", state, ZaloState(state).label if state else "")

    @admin.display(description=gettext_lazy("text"))
    def message_text(self, obj: ZaloEvent) -> str:
        return obj.message.text if obj.message else "—"

    @admin.display(description=gettext_lazy("failure reason"))
    def message_failure(self, obj: ZaloEvent) -> str:
        return (obj.message.failure_reason if obj.message else "") or "—"

    @admin.display(description=gettext_lazy("raw payload"))
    def payload(self, obj: ZaloEvent) -> str:
        try:
            text = json.dumps(json.loads(obj.raw_body), ensure_ascii=False, indent=2)
        except ValueError:
            text = obj.raw_body
        return format_html('<pre class="zh-payload">{}</pre>', text)

    # --- actions (list selection and form buttons share these) -----------------------
    def _run(self, request: HttpRequest, events: QuerySet, func, done: str) -> None:  # type: ignore[no-untyped-def]
        if not self.has_change_permission(request):
            raise PermissionDenied
        ok = 0
        for event in events.select_related("message"):
            try:
                func(event)
                ok += 1
            except ActionRefused as refused:
                self.message_user(request, str(refused), messages.WARNING)
        if ok:
            self.message_user(request, done % ok, messages.SUCCESS)

    @admin.action(description=gettext_lazy("Retry Processing"), permissions=["change"])
    def retry_processing(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(
            request,
            queryset,
            lambda e: event_retry_processing(event=e),
            _("%d event(s) queued for processing again."),
        )

    @admin.action(description=gettext_lazy("Resend"), permissions=["change"])
    def resend(self, request: HttpRequest, queryset: QuerySet) -> None:
        def one(event: ZaloEvent) -> None:
            if event.message is None:
                raise ActionRefused(_("Event #%d carries no message to resend.") % event.pk)
            message_resend(message=event.message)

        self._run(request, queryset, one, _("%d message(s) queued to send again."))

    @admin.action(description=gettext_lazy("Mark Error"), permissions=["change"])
    def mark_error(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        if "reason" in request.POST:
            reason = request.POST["reason"].strip()
            self._run(
                request,
                queryset,
                lambda e: event_mark_error(event=e, reason=reason, actor=request.user),
                _("%d event(s) marked as error."),
            )
            return None
        return TemplateResponse(
            request,
            "admin/events/zaloevent/mark_error.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "events": queryset,
                "title": _("Mark Error"),
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    def get_urls(self):  # type: ignore[no-untyped-def]
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/do/<str:action>/", wrap(self.button_view), name="events_zaloevent_button"
            ),
            *super().get_urls(),
        ]

    def button_view(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        """The form's buttons: the same actions on one event."""
        if request.method != "POST" or action not in self.actions:
            raise PermissionDenied
        get_object_or_404(ZaloEvent, pk=pk)
        response = getattr(self, action)(request, ZaloEvent.objects.filter(pk=pk))
        if response is not None:
            return response
        return HttpResponseRedirect(reverse("admin:events_zaloevent_change", args=[pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):  # type: ignore[no-untyped-def]
        query = urlencode({"ref_type": "event", "ref_id": object_id})
        extra_context = {
            **(extra_context or {}),
            "apilog_url": reverse("admin:apilog_apilog_changelist") + f"?{query}",
            "can_view_apilog": request.user.has_perm("apilog.view_apilog"),
            "can_act": self.has_change_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(RejectedRequest)
class RejectedRequestAdmin(admin.ModelAdmin):
    list_display = ["received_at", "app_id", "status_code", "reason", "remote_addr", "body_size"]
    list_filter = ["status_code", "app_id"]
    search_fields = ["reason", "app_id", "body"]
    readonly_fields = [
        "received_at",
        "app_id",
        "remote_addr",
        "status_code",
        "reason",
        "headers",
        "body",
        "body_size",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
