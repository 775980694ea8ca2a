"""The duplicate queue and the merge journal: merge, undo, and the scan button."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zalohub.core.admin_links import ReadonlyLinksMixin
from zalohub.core.records import RecordAdminMixin
from zalohub.partners.admin_display import (
    PARTNER_FIELDS,
    field_label,
    field_value,
    merge_fields_table,
    reasons_table,
    reasons_text,
    report_table,
    row_link,
    rows_table,
    undo_report_table,
    verbose_name,
)
from zalohub.partners.duplicates import duplicates_scan
from zalohub.partners.merge import (
    CHOOSABLE,
    MergeConflict,
    MergeRefused,
    partner_merge,
    partner_merge_undo,
)
from zalohub.partners.models import DuplicateSuggestion, MergeJournal, ZaloPartnerLink

# Records kept for the audit: read here, never saved by hand (no Save buttons).


class MergeForm(forms.Form):
    survivor = forms.ChoiceField(label=gettext_lazy("Keep"), widget=forms.RadioSelect)
    take = forms.MultipleChoiceField(
        label=gettext_lazy("Take these fields from the other partner"),
        # Named as on the partner's form, not by the field's code.
        choices=[(f, verbose_name(f)) for f in CHOOSABLE],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    keep_conflicting_links = forms.BooleanField(
        label=gettext_lazy("Both have a link on the same OA: I checked, keep both links"),
        required=False,
    )


@admin.register(DuplicateSuggestion)
class DuplicateSuggestionAdmin(ReadonlyLinksMixin, RecordAdminMixin, admin.ModelAdmin):
    """The duplicate queue an admin works through: merge, or say they are not the same."""

    list_display = ["first", "second", "score", "reason_list", "status", "merge_link"]
    list_filter = ["status"]
    readonly_fields = ["first", "second", "score", "reason_table", "status", "created_at"]
    fields = tuple(readonly_fields)
    actions = ["dismiss"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=gettext_lazy("reasons"))
    def reason_list(self, obj: DuplicateSuggestion) -> str:
        return reasons_text(obj.reasons)

    @admin.display(description=gettext_lazy("reasons"))
    def reason_table(self, obj: DuplicateSuggestion) -> str:
        return reasons_table(obj.reasons)

    @admin.display(description="")
    def merge_link(self, obj: DuplicateSuggestion) -> str:
        if obj.status != DuplicateSuggestion.Status.OPEN:
            return "—"
        url = reverse("admin:partners_suggestion_merge", args=[obj.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Merge…"))

    @admin.action(description=gettext_lazy("Not the same customer"), permissions=["change"])
    def dismiss(self, request: HttpRequest, queryset: QuerySet[DuplicateSuggestion]) -> None:
        queryset.filter(status=DuplicateSuggestion.Status.OPEN).update(
            status=DuplicateSuggestion.Status.DISMISSED
        )

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("scan/", wrap(self.scan_view), name="partners_suggestion_scan"),
            path("<int:pk>/merge/", wrap(self.merge_view), name="partners_suggestion_merge"),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {**(extra_context or {}), "can_scan": self.has_change_permission(request)}
        return super().changelist_view(request, extra_context)

    def scan_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        result = duplicates_scan()
        self.message_user(
            request,
            _("Scan done: %(pairs)d candidate pair(s), %(new)d new in the queue.")
            % {"pairs": result.pairs, "new": result.created},
        )
        return redirect(reverse("admin:partners_duplicatesuggestion_changelist"))

    def merge_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm("partners.change_partner") or not self.has_change_permission(
            request
        ):
            raise PermissionDenied
        suggestion = get_object_or_404(
            DuplicateSuggestion.objects.select_related("first", "second"), pk=pk
        )
        pair = {str(p.pk): p for p in (suggestion.first, suggestion.second)}
        form = MergeForm(request.POST or None)
        survivor_field = form.fields["survivor"]
        assert isinstance(survivor_field, forms.ChoiceField)  # declared so on MergeForm
        survivor_field.choices = [(k, str(p)) for k, p in pair.items()]
        if request.method == "POST" and form.is_valid():
            survivor = pair[form.cleaned_data["survivor"]]
            merged = next(p for k, p in pair.items() if p.pk != survivor.pk)
            try:
                journal = partner_merge(
                    survivor=survivor,
                    merged=merged,
                    actor=request.user,
                    take=tuple(form.cleaned_data["take"]),
                    keep_conflicting_links=form.cleaned_data["keep_conflicting_links"],
                )
            except MergeConflict as conflict:
                form.add_error("keep_conflicting_links", str(conflict))
            except MergeRefused as refused:
                form.add_error(None, str(refused))
            else:
                self.message_user(request, _("Merged. Review the audit below."), messages.SUCCESS)
                return redirect(reverse("admin:partners_mergejournal_change", args=[journal.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": suggestion,
            "form": form,
            "pair": pair.values(),
            "reasons": reasons_table(suggestion.reasons),
            "title": _("Merge duplicate partners"),
        }
        return TemplateResponse(request, "admin/partners/duplicatesuggestion/merge.html", context)


@admin.register(MergeJournal)
class MergeJournalAdmin(ReadonlyLinksMixin, RecordAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "merged", "survivor", "actor", "undone_at"]
    readonly_fields = [
        "survivor",
        "merged",
        "actor",
        "created_at",
        "fields_table",
        "moved_table",
        "left_table",
        "findings_table",
        "undone_at",
        "undone_by",
        "undo_table",
    ]
    fields = tuple(readonly_fields)

    @admin.display(description=gettext_lazy("Fields"))
    def fields_table(self, obj: MergeJournal) -> str:
        return merge_fields_table(obj)

    @admin.display(description=gettext_lazy("Moved to the kept partner"))
    def moved_table(self, obj: MergeJournal) -> str:
        return rows_table(obj.snapshot.get("moved", []))

    @admin.display(description=gettext_lazy("Left with the merged partner"))
    def left_table(self, obj: MergeJournal) -> str:
        # The kept partner already had the same row (a phone, a link on that OA...).
        return rows_table(obj.report.get("left", []))

    @admin.display(description=gettext_lazy("To check after the merge"))
    def findings_table(self, obj: MergeJournal) -> str:
        return report_table(obj.report)

    @admin.display(description=gettext_lazy("undo report"))
    def undo_table(self, obj: MergeJournal) -> str:
        return undo_report_table(obj.undo_report)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # the journal is how a merge is audited and undone

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/undo/", wrap(self.undo_view), name="partners_merge_undo"),
            *super().get_urls(),
        ]

    def undo_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """GET: what the undo will restore, and a confirmation; POST: undo."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        journal = get_object_or_404(
            MergeJournal.objects.select_related("survivor", "merged"), pk=pk
        )
        if request.method != "POST":
            return self._undo_confirm(request, journal)
        try:
            journal = partner_merge_undo(journal=journal, actor=request.user)
        except MergeRefused as refused:
            self.message_user(request, str(refused), messages.ERROR)
        else:
            self.message_user(request, _("Merge undone."), messages.SUCCESS)
        return redirect(reverse("admin:partners_mergejournal_change", args=[journal.pk]))

    def _undo_confirm(self, request: HttpRequest, journal: MergeJournal) -> HttpResponse:
        snapshot = journal.snapshot or {}
        before = snapshot.get("survivor_before", {})
        now = {name: getattr(journal.survivor, name) for name in PARTNER_FIELDS}
        fields = [
            [field_label(name), field_value(name, now[name]), field_value(name, before[name])]
            for name in PARTNER_FIELDS
            if name in before
        ]
        merged_fields = [
            [field_label(name), field_value(name, value)]
            for name, value in snapshot.get("merged_before", {}).items()
            if name in PARTNER_FIELDS
        ]
        shadow_links = [
            row_link("partners.zalopartnerlink", pk) for pk in snapshot.get("link_shadow", {})
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": journal,
            "title": _("Undo merge"),
            "undone": bool(journal.undone_at),
            "fields": fields,
            "merged_fields": merged_fields,
            "moving_back": rows_table(snapshot.get("moved", [])),
            "moving_back_any": bool(snapshot.get("moved")),
            "suggestions": len(snapshot.get("suggestions", [])),
            "shadow_links": shadow_links,
            "links_back": ZaloPartnerLink.objects.filter(
                pk__in=[
                    pk
                    for entry in snapshot.get("moved", [])
                    if entry.get("model") == "partners.zalopartnerlink"
                    for pk in entry.get("pks", [])
                ]
            ).count(),
        }
        return TemplateResponse(request, "admin/partners/mergejournal/undo_confirm.html", context)
