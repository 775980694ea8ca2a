"""Partners in the admin: contacts, their Zalo links (the OA's **Zalo Partners** list),
shadow review, and Sync Profile."""

from dataclasses import replace
from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zalohub.accounts.scope import (
    OAScopedAdminMixin,
    acting_oas,
    is_zalo_admin,
    may_act_in,
    scope_to_oas,
)
from zalohub.core.admin_links import ReadonlyLinksMixin
from zalohub.core.stored_text import shown_reason
from zalohub.partners.admin_display import evidence_table
from zalohub.partners.admin_tags import TagAdminMixin, TagFilter
from zalohub.partners.forms import PartnerPhoneForm
from zalohub.partners.models import (
    IdentityDecision,
    NameSource,
    Partner,
    PartnerPhone,
    ZaloPartnerLink,
)
from zalohub.partners.phones import format_phone
from zalohub.partners.resolution import link_keep_under_review, link_verify
from zalohub.partners.services import (
    link_sync_profile,
    links_request_profiles,
    oa_partner_audit,
)


def _shadow_badge(shadow: bool) -> str:
    if shadow:
        return format_html('<span class="badge-shadow">{}</span>', _("Shadow"))
    return format_html('<span class="badge-verified">{}</span>', _("Verified"))


class PartnerPhoneInline(ReadonlyLinksMixin, admin.TabularInline):
    model = PartnerPhone
    form = PartnerPhoneForm  # typed any way, stored as 84xxxxxxxxx
    extra = 0
    fields = ["number", "source", "verified", "created_at"]
    readonly_fields = ["created_at"]


class LinkInline(ReadonlyLinksMixin, admin.TabularInline):
    model = ZaloPartnerLink
    extra = 0
    can_delete = False
    show_change_link = True
    readonly_fields = [
        "oa",
        "zalo_user_id",
        "display_name",
        "shadow_badge",
        "link_method",
        "synced_at",
    ]
    fields = tuple(readonly_fields)

    @admin.display(description=gettext_lazy("shadow"))
    def shadow_badge(self, obj: ZaloPartnerLink) -> str:
        return _shadow_badge(obj.is_shadow)  # words, not a red ✗ that reads as "no"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ZaloPartnerLink]:
        # A partner shared by several OAs shows an agent only the links of its own OAs.
        return scope_to_oas(super().get_queryset(request), request.user)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class DecisionInline(ReadonlyLinksMixin, admin.TabularInline):
    model = IdentityDecision
    extra = 0
    can_delete = False
    readonly_fields = ["created_at", "kind", "link", "evidence_table", "actor"]
    fields = tuple(readonly_fields)
    verbose_name_plural = gettext_lazy("Identity decisions (evidence)")

    @admin.display(description=gettext_lazy("evidence"))
    def evidence_table(self, obj: IdentityDecision) -> str:
        return evidence_table(obj.evidence)

    def get_queryset(self, request: HttpRequest) -> QuerySet[IdentityDecision]:
        qs = super().get_queryset(request)
        if is_zalo_admin(request.user):
            return qs
        return qs.filter(Q(link__isnull=True) | Q(link__oa__in=acting_oas(request.user)))

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Partner)
class PartnerAdmin(ReadonlyLinksMixin, OAScopedAdminMixin, admin.ModelAdmin):
    list_display = ["shown_name", "shadow_badge", "phone_list", "link_count", "created_at"]
    list_filter = ["is_shadow"]
    search_fields = ["name", "email", "phones__number", "zalo_links__display_name"]
    fields = ["name", "name_source", "email", "notes", "external_refs", "is_shadow"]
    readonly_fields = ["name_source"]
    inlines = [PartnerPhoneInline, LinkInline, DecisionInline]
    # An agent sees the partners with a Zalo link on one of its OAs.
    oa_field = "zalo_links__oa"

    @admin.display(description=gettext_lazy("name"), ordering="name")
    def shown_name(self, obj: Partner) -> str:
        # "Zalo user 340317" (a shadow contact before its profile) in the reader's language.
        return obj.shown_name

    def save_model(
        self, request: HttpRequest, obj: Partner, form: forms.ModelForm, change: bool
    ) -> None:
        # A name staff typed is theirs: Zalo profile syncs no longer replace it.
        if not change or "name" in form.changed_data:
            obj.name_source = NameSource.STAFF
        super().save_model(request, obj, form, change)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Partner]:
        # A merged partner lives on only as a redirect to its survivor.
        return (
            super()
            .get_queryset(request)
            .filter(merged_into__isnull=True)
            .annotate(n_links=Count("zalo_links", distinct=True))
        )

    @admin.display(description=gettext_lazy("shadow contact"), ordering="is_shadow")
    def shadow_badge(self, obj: Partner) -> str:
        return _shadow_badge(obj.is_shadow)

    @admin.display(description=gettext_lazy("phones"))
    def phone_list(self, obj: Partner) -> str:
        return ", ".join(format_phone(p.number) for p in obj.phones.all()) or "—"

    @admin.display(description=gettext_lazy("Zalo links"), ordering="n_links")
    def link_count(self, obj: Partner) -> int:
        return obj.n_links  # type: ignore[attr-defined]  # annotated by get_queryset

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        partner = Partner.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if (
            partner is not None
            and partner.merged_into_id
            # Only to a survivor this user may see: else the old id is simply not found.
            and self.get_queryset(request).filter(pk=partner.resolved().pk).exists()
        ):
            survivor = partner.resolved()
            self.message_user(
                request,
                _("“%(old)s” was merged into “%(new)s”.") % {"old": partner, "new": survivor},
                messages.INFO,
            )
            return redirect(reverse("admin:partners_partner_change", args=[survivor.pk]))
        return super().change_view(request, object_id, form_url, extra_context)


class ShadowContact(Partner):
    class Meta:
        proxy = True
        verbose_name = gettext_lazy("shadow contact")
        verbose_name_plural = gettext_lazy("shadow contacts (review)")


class FollowFilter(admin.SimpleListFilter):
    title = gettext_lazy("follows the OA")
    parameter_name = "following"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", _("Following")), ("no", _("Unfollowed"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "no":
            return queryset.filter(is_follower=False)
        if self.value() == "yes":
            return queryset.filter(is_follower=True)
        return queryset


class StaleFilter(admin.SimpleListFilter):
    title = gettext_lazy("profile")
    parameter_name = "profile"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("stale", _("Stale (not synced within %d days)") % settings.PARTNER_PROFILE_STALE_DAYS)
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "stale":
            cutoff = timezone.now() - timedelta(days=settings.PARTNER_PROFILE_STALE_DAYS)
            return queryset.filter(Q(synced_at__isnull=True) | Q(synced_at__lt=cutoff))
        return queryset


class AttachForm(forms.Form):
    partner = forms.ModelChoiceField(
        queryset=Partner.objects.filter(merged_into__isnull=True),
        label=gettext_lazy("Existing partner"),
        required=False,
        help_text=gettext_lazy("Leave empty to confirm the contact as a new customer."),
    )


@admin.register(ZaloPartnerLink)
class ZaloPartnerLinkAdmin(ReadonlyLinksMixin, TagAdminMixin, OAScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "avatar_img",
        "display_name",
        "partner",
        "oa",
        "tag_list",
        "shadow_badge",
        "follow_state",
        "message_count",
        "last_message_at",
        "synced_at",
    ]
    list_display_links = ["display_name"]
    # Only the OAs present in the (scoped) list: never other OAs' names.
    list_filter = [
        ("oa", admin.RelatedOnlyFieldListFilter),
        "is_shadow",
        FollowFilter,
        StaleFilter,
        TagFilter,
    ]
    search_fields = ["display_name", "zalo_user_id", "user_id_by_app", "partner__name"]
    list_select_related = ["partner", "oa"]
    actions = ["sync_profiles", "verify_as_new", "keep_under_review"]
    readonly_fields = [
        "partner",
        "oa",
        "app",
        "zalo_user_id",
        "user_id_by_app",
        "display_name",
        "avatar_img",
        "user_alias",
        "tag_list",
        "zalo_notes",
        "is_sensitive",
        "follow_state",
        "followed_at",
        "unfollowed_at",
        "last_interaction_at",
        "zalo_last_interaction_on",
        "synced_at",
        "sync_error_text",
        "profile_due_at",
        "shadow_badge",
        "link_method",
        "evidence_table",
        "created_at",
    ]
    fields = tuple(readonly_fields)

    @admin.display(description=gettext_lazy("last sync error"))
    def sync_error_text(self, obj: ZaloPartnerLink) -> str:
        # Stored as written when the sync failed: shown in the reader's language.
        return shown_reason(obj, "sync_error")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ZaloPartnerLink]:
        return (
            super()
            .get_queryset(request)
            .annotate(n_messages=Count("messages"), last_message=Max("messages__created_at"))
        )

    def _link(self, request: HttpRequest, pk: int) -> ZaloPartnerLink:
        links = ZaloPartnerLink.objects.select_related("partner", "oa__app")
        return get_object_or_404(scope_to_oas(links, request.user), pk=pk)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # links are made by resolution, never by hand

    @admin.display(description=gettext_lazy("avatar"))
    def avatar_img(self, obj: ZaloPartnerLink) -> str:
        if not obj.avatar:
            return "—"
        return format_html(
            '<img src="{}" alt="" width="32" height="32" class="link-avatar">', obj.avatar
        )

    @admin.display(description=gettext_lazy("shadow"), ordering="is_shadow")
    def shadow_badge(self, obj: ZaloPartnerLink) -> str:
        return _shadow_badge(obj.is_shadow)

    @admin.display(description=gettext_lazy("follows the OA"), ordering="is_follower")
    def follow_state(self, obj: ZaloPartnerLink) -> str:
        # Said in words: an icon's red ✗ reads as "no data" as much as "unfollowed".
        if obj.is_follower is None:
            return _("Not known yet")
        return _("Following") if obj.is_follower else _("Unfollowed")

    @admin.display(description=gettext_lazy("evidence"))
    def evidence_table(self, obj: ZaloPartnerLink) -> str:
        return evidence_table(obj.evidence)

    @admin.display(description=gettext_lazy("messages"), ordering="n_messages")
    def message_count(self, obj: ZaloPartnerLink) -> int:
        return obj.n_messages  # type: ignore[attr-defined]  # annotated by get_queryset

    @admin.display(description=gettext_lazy("last message"), ordering="last_message")
    def last_message_at(self, obj: ZaloPartnerLink) -> object:
        return obj.last_message or "—"  # type: ignore[attr-defined]  # annotated too

    def _require_change(self, request: HttpRequest) -> None:
        if not self.has_change_permission(request):
            raise PermissionDenied

    @admin.action(description=gettext_lazy("Sync Profile"), permissions=["change"])
    def sync_profiles(self, request: HttpRequest, queryset: QuerySet[ZaloPartnerLink]) -> None:
        results = [link_sync_profile(link=link) for link in queryset.select_related("oa__app")]
        failed = [r for r in results if r.error and not r.wait]
        waiting = [r.link.pk for r in results if r.wait]
        if synced := len(results) - len(failed) - len(waiting):
            self.message_user(request, _("%d profile(s) synced from Zalo.") % synced)
        if waiting:
            # Past the app's call budget: the worker fetches them when it allows.
            links_request_profiles(links=ZaloPartnerLink.objects.filter(pk__in=waiting))
            self.message_user(
                request,
                _(
                    "%d profile(s) will be fetched in the background: the app's Zalo calls "
                    "for this minute are used up."
                )
                % len(waiting),
                messages.WARNING,
            )
        for result in failed:
            self.message_user(request, f"{result.link}: {result.error}", messages.WARNING)

    @admin.action(
        description=gettext_lazy("Verify: confirm as new customer"), permissions=["change"]
    )
    def verify_as_new(self, request: HttpRequest, queryset: QuerySet[ZaloPartnerLink]) -> None:
        for link in queryset:
            link_verify(link=link, actor=request.user)
        self.message_user(request, _("%d link(s) verified.") % queryset.count())

    @admin.action(description=gettext_lazy("Keep under review"), permissions=["change"])
    def keep_under_review(self, request: HttpRequest, queryset: QuerySet[ZaloPartnerLink]) -> None:
        for link in queryset:
            link_keep_under_review(link=link, actor=request.user)
        self.message_user(request, _("%d link(s) kept under review.") % queryset.count())

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("audit/<int:oa_id>/", wrap(self.audit_view), name="partners_link_audit"),
            path("<int:pk>/sync-profile/", wrap(self.sync_view), name="partners_link_sync"),
            path("<int:pk>/verify/", wrap(self.verify_view), name="partners_link_verify"),
            *self.tag_urls(),
            *super().get_urls(),
        ]

    def _back(self, link: ZaloPartnerLink) -> HttpResponseRedirect:
        return redirect(reverse("admin:partners_zalopartnerlink_change", args=[link.pk]))

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        oa_id = request.GET.get("oa__id__exact", "")
        extra_context = dict(extra_context or {})
        if oa_id.isdigit() and may_act_in(request.user, int(oa_id)):
            extra_context["audit_url"] = reverse("admin:partners_link_audit", args=[int(oa_id)])
            if self.has_change_permission(request):
                extra_context["tags_sync_url"] = reverse(
                    "admin:partners_oa_tags_sync", args=[int(oa_id)]
                )
        return super().changelist_view(request, extra_context)

    def audit_view(self, request: HttpRequest, oa_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        oa = get_object_or_404(acting_oas(request.user), pk=oa_id)
        checks = oa_partner_audit(oa_id=oa.pk)
        if not request.user.has_perm("partners.view_duplicatesuggestion"):
            # A reader who may not open the duplicates list reads the count, unlinked.
            checks = [replace(c, url="") if c.key == "duplicates" else c for c in checks]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "oa": oa,
            "checks": checks,
            "all_ok": all(c.ok for c in checks),
            "title": _("Zalo Partners audit: %s") % oa.name,
        }
        return TemplateResponse(request, "admin/partners/zalopartnerlink/audit.html", context)

    def sync_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        self._require_change(request)
        link = self._link(request, pk)
        if request.method == "POST":
            result = link_sync_profile(link=link)
            if result.wait:
                # Past the app's call budget: the worker fetches it when the window opens.
                links_request_profiles(links=ZaloPartnerLink.objects.filter(pk=link.pk))
                self.message_user(request, result.error, messages.WARNING)
            elif result.error:
                self.message_user(request, result.error, messages.ERROR)
            else:
                self.message_user(request, _("Profile synced from Zalo."), messages.SUCCESS)
        return self._back(link)

    def verify_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        self._require_change(request)
        link = self._link(request, pk)
        form = AttachForm(request.POST or None)
        field = form.fields["partner"]
        # Declared so on AttachForm, with its queryset.
        assert isinstance(field, forms.ModelChoiceField) and field.queryset is not None
        field.queryset = scope_to_oas(field.queryset, request.user, field="zalo_links__oa")
        if request.method == "POST" and form.is_valid():
            link = link_verify(link=link, actor=request.user, into=form.cleaned_data["partner"])
            self.message_user(
                request, _("Link verified: it belongs to “%s”.") % link.partner, messages.SUCCESS
            )
            return self._back(link)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": link,
            "form": form,
            "decisions": link.decisions.all()[:20],
            "title": _("Verify Zalo partner link"),
        }
        return TemplateResponse(request, "admin/partners/zalopartnerlink/verify.html", context)


@admin.register(ShadowContact)
class ShadowContactAdmin(PartnerAdmin):
    """Shadow review: contacts created before anyone knew who they were."""

    list_display = ["shown_name", "link_list", "evidence_summary", "created_at"]
    list_filter = []
    inlines = [LinkInline, DecisionInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Partner]:
        # The links listed are the ones this user may see (an agent: its OAs only).
        links = scope_to_oas(ZaloPartnerLink.objects.select_related("oa"), request.user)
        return (
            super()
            .get_queryset(request)
            .filter(is_shadow=True)
            .prefetch_related(Prefetch("zalo_links", queryset=links, to_attr="visible_links"))
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=gettext_lazy("Zalo links"))
    def link_list(self, obj: Partner) -> str:
        # format_html_join, not format_html of a joined string: Django 6 refuses
        # format_html without arguments (it answered 500 once a shadow contact existed).
        return (
            format_html_join(
                mark_safe("<br>"),
                '<a href="{}">{} @ {}</a>',
                (
                    (
                        reverse("admin:partners_link_verify", args=[link.pk]),
                        link.display_name or link.zalo_user_id,
                        link.oa.name,
                    )
                    for link in getattr(obj, "visible_links", [])
                ),
            )
            or "—"
        )

    @admin.display(description=gettext_lazy("evidence so far"))
    def evidence_summary(self, obj: Partner) -> str:
        return "; ".join(str(d.get_kind_display()) for d in obj.decisions.all()[:5]) or "—"


# The duplicate queue and merges live in their own module; importing it registers them.
from zalohub.partners import admin_merge  # noqa: E402, F401
