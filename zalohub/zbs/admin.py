"""The ZBS Templates screens: the list per OA, the template form with its lifecycle
buttons, and the settings with the OA's Route policy."""

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from zalohub.accounts.scope import OAScopedAdminMixin, acting_oas
from zalohub.core.admin_links import ReadonlyLinksMixin
from zalohub.core.records import NO_SAVE, RecordAdminMixin
from zalohub.core.stored_text import shown_reason
from zalohub.zbs import admin_views
from zalohub.zbs.forms import BUTTON_TYPES, TemplateForm
from zalohub.zbs.lint import PARAM_TYPES
from zalohub.zbs.mapping import CONSTANT, REF, SOURCE_LABELS
from zalohub.zbs.models import BulkSend, Template, ZbsSettings
from zalohub.zbs.services import oa_settings

EDITABLE = ["name", "template_type", "tag", "body", "params", "buttons", "note"]
# A template that is not a Draft shows its rows as tables, not as the form's inputs.
SHOWN = {"params": "params_table", "buttons": "buttons_table"}
SHOWN_BULK = {"params": "parameters_table", "stop_reason": "stop_reason_text"}


def _table(heads: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return "—"
    head = format_html_join("", "<th>{}</th>", ((h,) for h in heads))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows),
    )
    return format_html('<table class="zbs-rows-table"><tr>{}</tr>{}</table>', head, body)


class OAScopedAdmin(ReadonlyLinksMixin, OAScopedAdminMixin, admin.ModelAdmin):
    """Rows of the OAs the user acts in only: another OA's id is not found (404), and
    the OA filter and choices name no other OA (issue 13 §2)."""

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "oa":
            kwargs["queryset"] = acting_oas(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Template)
class TemplateAdmin(OAScopedAdmin):
    form = TemplateForm
    list_display = ["name", "status_badge", "quality", "template_type", "zalo_template_id", "oa"]
    list_filter = [("oa", admin.RelatedOnlyFieldListFilter), "status", "quality"]
    search_fields = ["name", "zalo_template_id"]
    readonly_fields = [
        "status_badge",
        "reject_reason",
        "disabled_cause",
        "quality",
        "zalo_template_id",
        "price",
        "template_daily_quota",
        "submitted_at",
        "reviewed_at",
        "synced_at",
    ]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        head = ["oa"] if obj is None else ["oa", "status_badge"]
        # A template nobody may edit now (Pending, Approved) or this reader may only view
        # (a CS agent): its parameters and buttons as tables, not as raw JSON.
        may_edit = obj is None or (obj.editable and self.has_change_permission(request, obj))
        editable = EDITABLE if may_edit else [SHOWN.get(f, f) for f in EDITABLE]
        return [*head, *editable, *[f for f in self.readonly_fields if f != "status_badge"]]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is not None and not obj.editable:
            # Pending and Approved templates are never edited in place (issue 6 §2).
            shown = ["oa", *[SHOWN.get(f, f) for f in EDITABLE], *self.readonly_fields]
        else:
            shown = ["oa", *self.readonly_fields] if obj is not None else list(self.readonly_fields)
        return self.as_texts(request, shown)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: Template) -> str:
        return format_html(
            '<span class="zbs-status zbs-status-{}">{}</span>', obj.status, obj.get_status_display()
        )

    @admin.display(description=_("parameters"))
    def params_table(self, obj: Template) -> str:
        rows = []
        for param in obj.params:
            label, limit = PARAM_TYPES.get(int(param.get("type") or 0), ("—", ""))
            name = format_html("<code>{}</code>", param.get("name", ""))  # an identifier
            rows.append([name, label, param.get("sample", ""), limit])
        heads = [_("Parameter name"), _("Type"), _("Sample value"), _("Limit")]
        return _table([str(h) for h in heads], rows)

    @admin.display(description=_("buttons"))
    def buttons_table(self, obj: Template) -> str:
        rows = [
            [
                BUTTON_TYPES.get(int(b.get("type") or 0), b.get("type", "—")),
                b.get("title", ""),
                b.get("content", ""),
            ]
            for b in obj.buttons
        ]
        heads = [_("Button type"), _("Title"), _("Web address or phone number")]
        return _table([str(h) for h in heads], rows)

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        views: list[tuple[str, Callable[..., HttpResponse], str]] = [
            ("lint/check/", admin_views.lint_check, "lint_check"),
            ("<int:pk>/submit/", admin_views.submit, "submit"),
            ("<int:pk>/reset/", admin_views.reset, "reset"),
            ("<int:pk>/lint/", admin_views.lint, "lint"),
            ("<int:pk>/send/", admin_views.send, "send"),
            ("<int:pk>/bulk/", admin_views.bulk, "bulk"),
            ("bulk/<int:bulk_id>/", admin_views.bulk_progress_view, "bulk_progress"),
            ("oa/<int:oa_pk>/sync/", admin_views.sync, "sync"),
            ("oa/<int:oa_pk>/starters/", admin_views.starters, "starters"),
            ("oa/<int:oa_pk>/dashboard/", admin_views.dashboard, "dashboard"),
        ]
        mine = [path(route, wrap(view), name=f"zbs_template_{name}") for route, view, name in views]
        return mine + super().get_urls()

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        extra = dict(extra_context or {})
        oa_pk = request.GET.get("oa__id__exact")
        oas = acting_oas(request.user)
        oa = oas.filter(pk=oa_pk).first() if oa_pk and oa_pk.isdigit() else None
        if oa is not None:
            extra["zbs_oa"] = oa_settings(oa)
            extra["zbs_oa_pk"] = oa.pk
            # Buttons and links only where the reader may follow them (a CS agent views
            # templates: Sync and the route policy's form answered 403).
            extra["can_sync"] = request.user.has_perm("zbs.change_template")
            if request.user.has_perm("zbs.view_zbssettings"):
                url = reverse("admin:zbs_zbssettings_change", args=[extra["zbs_oa"].pk])
                extra["zbs_settings_url"] = url
        return super().changelist_view(request, extra)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> Any:
        extra = dict(extra_context or {})
        extra["apilog_url"] = (
            reverse("admin:apilog_apilog_changelist") + f"?ref_type=zbs.template&ref_id={object_id}"
        )
        extra["can_view_apilog"] = request.user.has_perm("apilog.view_apilog")
        extra["can_send"] = request.user.has_perm("zbs.send_template")
        extra["statuses"] = Template.Status.choices
        template = self.get_object(request, object_id)
        if template is not None and not template.editable:
            # Approved, Pending, Rejected and Disabled templates are read here, not saved.
            extra.update(NO_SAVE)
        return super().change_view(request, object_id, form_url, extra)


@admin.register(ZbsSettings)
class ZbsSettingsAdmin(OAScopedAdmin):
    list_display = ["oa", "route_policy", "daily_quota", "remaining_quota", "templates_synced_at"]
    fields = ["oa", "route_policy", "daily_quota", "remaining_quota", "quota_synced_at"]
    readonly_fields = ["daily_quota", "remaining_quota", "quota_synced_at"]


@admin.register(BulkSend)
class BulkSendAdmin(RecordAdminMixin, OAScopedAdmin):
    """A bulk send is a record of what happened: nothing on it is saved by hand."""

    list_display = ["template", "oa", "status", "total", "created_at"]
    # Its parameters read as a table (where each value came from), not as JSON.
    readonly_fields = [
        *(
            SHOWN_BULK.get(f.name, f.name)
            for f in BulkSend._meta.fields
            # The stop reason is shown from its stored Reason, in the reader's language.
            if f.name != "mapping" and not f.name.endswith("_i18n")
        ),
    ]
    fields = tuple(readonly_fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("stopped because"))
    def stop_reason_text(self, obj: BulkSend) -> str:
        return shown_reason(obj, "stop_reason") or "—"

    @admin.display(description=_("parameters"))
    def parameters_table(self, obj: BulkSend) -> str:
        names = [str(p.get("name")) for p in obj.template.params] or sorted(obj.params)
        labels = dict(SOURCE_LABELS)
        rows = []
        for name in names:
            rule = obj.mapping.get(name)
            code = format_html("<code>{}</code>", name)  # an identifier, not words
            if rule is None:
                rows.append([code, labels[CONSTANT], obj.params.get(name, "")])
            elif rule.get("source") == REF:
                rows.append([code, _("External reference “%s”") % rule.get("key"), "—"])
            else:
                rows.append([code, labels.get(rule.get("source"), rule.get("source")), "—"])
        heads = [_("Parameter name"), _("Value from"), _("Value (the same for everyone)")]
        return _table([str(h) for h in heads], rows)
