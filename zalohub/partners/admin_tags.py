"""Zalo tags in the Zalo Partners list: a column, a filter by tag name, Add/Remove tag on
a link's form (through Zalo), and Sync Zalo tags for an OA (``gettagsofoa``)."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from zalohub.accounts.scope import acting_oas, scope_to_oas
from zalohub.accounts.tokens import TokenUnavailable
from zalohub.partners.models import ZaloPartnerLink
from zalohub.partners.tags import TAG_MAX, link_tag, link_untag, oa_sync_tags, tag_names_visible
from zalohub.zalo import ZaloError


class TagFilter(admin.SimpleListFilter):
    """By tag name, across the OAs in the list (one name may be a tag of several OAs)."""

    title = gettext_lazy("Zalo tag")
    parameter_name = "zalo_tag"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        oa_id = request.GET.get("oa__id__exact", "")
        oas = acting_oas(request.user)
        if oa_id.isdigit():
            oas = oas.filter(pk=int(oa_id))
        names = tag_names_visible(oa_ids=oas.values_list("pk", flat=True))
        return [(name, name) for name in names]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if value := self.value():
            return queryset.filter(taggings__tag__name=value).distinct()
        return queryset


class TagForm(forms.Form):
    tag = forms.CharField(label=gettext_lazy("Zalo tag"), max_length=TAG_MAX)
    action = forms.ChoiceField(choices=[("add", "add"), ("remove", "remove")])


def tag_chips(link: ZaloPartnerLink) -> str:
    """The link's tags, each a link to the Zalo Partners list filtered by it."""
    base = reverse("admin:partners_zalopartnerlink_changelist")
    return (
        format_html_join(
            " ",
            '<a class="zalo-tag" href="{}?oa__id__exact={}&amp;zalo_tag={}">{}</a>',
            ((base, link.oa_id, name, name) for name in link.tag_names or []),
        )
        or "—"
    )


class TagAdminMixin:
    """For ZaloPartnerLinkAdmin: the tag column and the two tag views."""

    admin_site: admin.AdminSite

    @admin.display(description=gettext_lazy("Zalo tags"))
    def tag_list(self, obj: ZaloPartnerLink) -> str:
        return tag_chips(obj)

    def tag_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/tags/", wrap(require_POST(self.tags_view)), name="partners_link_tags"),
            path(
                "tags-sync/<int:oa_id>/",
                wrap(require_POST(self.tags_sync_view)),
                name="partners_oa_tags_sync",
            ),
        ]

    def _may_change(self, request: HttpRequest) -> None:
        if not self.has_change_permission(request):  # type: ignore[attr-defined]  # ModelAdmin's
            raise PermissionDenied

    def tags_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Add or remove one tag: Zalo first; kept here only once Zalo accepted it."""
        self._may_change(request)
        links = ZaloPartnerLink.objects.select_related("oa__app")
        link = get_object_or_404(scope_to_oas(links, request.user), pk=pk)
        form = TagForm(request.POST)
        back = redirect(reverse("admin:partners_zalopartnerlink_change", args=[link.pk]))
        if not form.is_valid():
            messages.error(request, _("Give a tag of 1 to %d characters.") % TAG_MAX)
            return back
        tag, action = form.cleaned_data["tag"], form.cleaned_data["action"]
        try:
            if action == "add":
                name = link_tag(link=link, tag=tag)
                messages.success(request, _("Tagged “%s” on Zalo.") % name)
            else:
                name = link_untag(link=link, tag=tag)
                messages.success(request, _("Removed the tag “%s” on Zalo.") % name)
        except ValueError:
            messages.error(request, _("Give a tag of 1 to %d characters.") % TAG_MAX)
        except (ZaloError, TokenUnavailable) as exc:
            messages.error(request, _("Zalo did not change the tag: %s") % exc)
        return back

    def tags_sync_view(self, request: HttpRequest, oa_id: int) -> HttpResponseRedirect:
        self._may_change(request)
        oa = get_object_or_404(acting_oas(request.user), pk=oa_id)
        back = redirect(
            reverse("admin:partners_zalopartnerlink_changelist") + f"?oa__id__exact={oa.pk}"
        )
        try:
            names = oa_sync_tags(oa=oa)
        except (ZaloError, TokenUnavailable) as exc:
            messages.error(request, _("Zalo did not return the OA's tags: %s") % exc)
            return back
        messages.success(
            request,
            _("%(count)d Zalo tag(s) of %(oa)s read from Zalo.") % {"count": len(names), "oa": oa},
        )
        return back
