from collections.abc import Iterator
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from zalohub.apilog.models import ApiLog
from zalohub.core.admin_links import ReadonlyLinksMixin
from zalohub.core.stored_text import shown_reason
from zalohub.zalo.errors import KIND_LABELS, kind_label


class OutcomeFilter(admin.SimpleListFilter):
    title = _("outcome")
    parameter_name = "outcome"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("ok", _("Succeeded")), ("error", _("Failed"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "ok":
            return queryset.filter(ok=True)
        if self.value() == "error":
            return queryset.filter(ok=False)
        return queryset


class KindFilter(admin.SimpleListFilter):
    title = _("error kind")
    parameter_name = "error_kind"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [(kind.value, label) for kind, label in KIND_LABELS.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(error_kind=self.value()) if self.value() else queryset


# What each kind of cause is called (the values are codes the callers set).
REF_LABELS = {
    "event": _("Zalo event"),
    "partner_link": _("Zalo partner link"),
    "zbs.template": _("ZBS template"),
    "inbox.upload": _("Image sent from the inbox"),
    "oa": _("Official account"),
    "conversation": _("conversation"),
}


class CauseFilter(admin.SimpleListFilter):
    """What caused the calls (an event, a template, a partner link), when a page links to
    their logs: shown in the sidebar so the filtering is visible and can be cleared."""

    title = _("caused by")
    parameter_name = "ref_type"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        types = ApiLog.objects.exclude(ref_type="").values_list("ref_type", flat=True)
        return [(t, REF_LABELS.get(t, t)) for t in sorted(set(types.distinct()[:20]))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value():
            queryset = queryset.filter(ref_type=self.value())
            if ref_id := request.GET.get("ref_id"):
                queryset = queryset.filter(ref_id=ref_id)
        return queryset

    def expected_parameters(self) -> list[str | None]:
        return [self.parameter_name, "ref_id"]

    def choices(self, changelist: ChangeList) -> Iterator[Any]:
        yield from super().choices(changelist)
        if ref_id := changelist.params.get("ref_id"):
            yield {
                "selected": True,
                "query_string": changelist.get_query_string(remove=["ref_id"]),
                "display": _("only #%s (show all)") % ref_id,
            }


@admin.register(ApiLog)
class ApiLogAdmin(ReadonlyLinksMixin, admin.ModelAdmin):
    """Read-only: a log is evidence, nobody edits it."""

    list_display = [
        "created_at",
        "oa",
        "method",
        "endpoint",
        "status_display",
        "error_code",
        "short_error",
        "duration_display",
    ]
    list_filter = [
        OutcomeFilter,
        CauseFilter,
        "oa",
        "http_status",
        KindFilter,
        "endpoint",
        "created_at",
    ]
    search_fields = ["endpoint", "error_message", "url", "ref_id", "=request_id"]
    date_hierarchy = "created_at"
    list_select_related = ["oa"]
    readonly_fields = [
        "created_at",
        "oa",
        "app",
        "method",
        "endpoint",
        "url",
        "http_status",
        "outcome",
        "error_code",
        "kind_display",
        "error_text",
        "duration_display",
        "caused_by",
        "ref_id",
        "request_id",
        "request_headers",
        "request_body_display",
        "response_body_display",
    ]
    fields = tuple(readonly_fields)

    @admin.display(description=_("caused by"))
    def caused_by(self, obj: ApiLog) -> str:
        return str(REF_LABELS.get(obj.ref_type, obj.ref_type))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ApiLog | None = None) -> bool:
        return False

    @admin.display(description=_("succeeded"))
    def outcome(self, obj: ApiLog) -> str:
        # Words, not the admin's boolean icon: a red ✗ reads as "no data".
        return str(_("Succeeded") if obj.ok else _("Failed"))

    @admin.display(description=_("HTTP status"), ordering="http_status")
    def status_display(self, obj: ApiLog) -> str:
        css = "ok" if obj.ok else "bad"
        return format_html('<span class="apilog-{}">{}</span>', css, obj.http_status or "—")

    @admin.display(description=_("error kind"), ordering="error_kind")
    def kind_display(self, obj: ApiLog) -> str:
        return kind_label(obj.error_kind)

    @admin.display(description=_("error message"))
    def error_text(self, obj: ApiLog) -> str:
        return shown_reason(obj, "error_message")

    @admin.display(description=_("error message"))
    def short_error(self, obj: ApiLog) -> str:
        text = shown_reason(obj, "error_message")
        return text if len(text) <= 80 else text[:77] + "…"

    @admin.display(description=_("duration (s)"), ordering="duration_ms")
    def duration_display(self, obj: ApiLog) -> str:
        return f"{obj.duration_seconds:.3f}"

    @admin.display(description=_("request body"))
    def request_body_display(self, obj: ApiLog) -> str:
        return format_html('<pre class="apilog-body">{}</pre>', obj.request_body or "—")

    @admin.display(description=_("response body"))
    def response_body_display(self, obj: ApiLog) -> str:
        return format_html('<pre class="apilog-body">{}</pre>', obj.response_body or "—")
