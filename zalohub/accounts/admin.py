from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zalohub.accounts.links import oa_links
from zalohub.accounts.models import OAuthSession, OfficialAccount, ZaloApp
from zalohub.accounts.oauth import (
    OAuthFailure,
    browser_binding,
    oauth_clear_sessions,
    oauth_start,
)
from zalohub.accounts.tokens import TokenUnavailable, oa_sync_profile
from zalohub.core.admin_links import ReadonlyLinksMixin
from zalohub.core.crypto import SecretUnavailable
from zalohub.core.stored_text import shown_reason
from zalohub.zalo import ZaloError
from zalohub.zalo.signature import variant_label

SECRET_FIELDS = ("secret_key", "oa_secret_key", "fixed_code_verifier")


class ZaloAppForm(forms.ModelForm):
    """Secrets are write-only: the form never shows them; blank keeps the stored one."""

    class Meta:
        model = ZaloApp
        fields = [
            "name",
            "app_id",
            "secret_key",
            "oa_secret_key",
            "pkce_mode",
            "fixed_code_verifier",
        ]
        widgets = {name: forms.PasswordInput(render_value=False) for name in SECRET_FIELDS}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in SECRET_FIELDS:
            field = self.fields[name]
            field.initial = ""
            if self.instance.pk and getattr(self.instance, name):
                field.required = False
                field.help_text = _("A value is stored. Leave blank to keep it.")
        self.fields["secret_key"].required = not (self.instance.pk and self.instance.secret_key)

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        for name in SECRET_FIELDS:
            if self.instance.pk and not data.get(name):
                data[name] = getattr(type(self.instance).objects.get(pk=self.instance.pk), name)
        if data.get("pkce_mode") == ZaloApp.PKCEMode.FIXED and not data.get("fixed_code_verifier"):
            self.add_error("fixed_code_verifier", _("The fixed mode needs the code verifier."))
        return data


@admin.register(ZaloApp)
class ZaloAppAdmin(ReadonlyLinksMixin, admin.ModelAdmin):
    form = ZaloAppForm
    list_display = ["name", "app_id", "pkce_mode", "oa_count"]
    search_fields = ["name", "app_id"]
    readonly_fields = ["callback_url_display", "webhook_url_display", "webhook_mac_display"]

    @admin.display(description=gettext_lazy("OAs"))
    def oa_count(self, obj: ZaloApp) -> int:
        return obj.official_accounts.count()

    @admin.display(description=gettext_lazy("OAuth Callback URL"))
    def callback_url_display(self, obj: ZaloApp) -> str:
        return obj.callback_url if obj.pk else "—"

    @admin.display(description=gettext_lazy("Webhook URL"))
    def webhook_url_display(self, obj: ZaloApp) -> str:
        return obj.webhook_url if obj.pk else "—"

    @admin.display(description=gettext_lazy("Webhook signature variant"))
    def webhook_mac_display(self, obj: ZaloApp) -> str:
        return _mac_variant(obj)


@admin.register(OfficialAccount)
class OfficialAccountAdmin(ReadonlyLinksMixin, admin.ModelAdmin):
    list_display = ["name", "oa_id", "app", "status_badge", "token_icon", "token_expires_at"]
    list_filter = ["status", "app"]
    search_fields = ["name", "oa_id"]
    fieldsets = [
        (None, {"fields": ["name", "app", "oa_id", "avatar_display", "description"]}),
        (
            gettext_lazy("Token"),
            {
                "fields": [
                    "token_icon",
                    "token_expires_at",
                    "refresh_token_expires_at",
                    "connected_at",
                    "last_refreshed_at",
                    "last_refresh_error_text",
                    "profile_synced_at",
                    "last_error_text",
                ]
            },
        ),
        (
            gettext_lazy("Zalo developer console"),
            {"fields": ["callback_url_display", "webhook_url_display", "webhook_mac_display"]},
        ),
    ]
    readonly_fields = [
        "oa_id",
        "avatar_display",
        "description",
        "token_icon",
        "token_expires_at",
        "refresh_token_expires_at",
        "connected_at",
        "last_refreshed_at",
        "last_refresh_error_text",
        "profile_synced_at",
        "last_error_text",
        "callback_url_display",
        "webhook_url_display",
        "webhook_mac_display",
    ]

    def get_readonly_fields(
        self, request: HttpRequest, obj: OfficialAccount | None = None
    ) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is None:
            # A new OA is Draft: nothing to show until it is saved and authorized.
            return [f for f in fields if f not in ("oa_id",)]
        return fields

    @admin.display(description=gettext_lazy("Status"), ordering="status")
    def status_badge(self, obj: OfficialAccount) -> str:
        return format_html(
            '<span class="oa-status oa-status-{}">{}</span>', obj.status, obj.get_status_display()
        )

    # Stored as written when the call failed: shown in the reader's language.
    @admin.display(description=gettext_lazy("last refresh error"))
    def last_refresh_error_text(self, obj: OfficialAccount) -> str:
        return shown_reason(obj, "last_refresh_error") or "—"

    @admin.display(description=gettext_lazy("last error"))
    def last_error_text(self, obj: OfficialAccount) -> str:
        return shown_reason(obj, "last_error") or "—"

    @admin.display(description=gettext_lazy("Token status"))
    def token_icon(self, obj: OfficialAccount) -> str:
        if obj.pk and obj.token_valid:
            return format_html(
                '<span class="token-ok" title="{}">✔</span> {}', _("Token valid"), _("Valid")
            )
        return format_html(
            '<span class="token-bad" title="{}">⚠</span> {}',
            _("Token expired or missing"),
            _("Expired or missing"),
        )

    @admin.display(description=gettext_lazy("avatar"))
    def avatar_display(self, obj: OfficialAccount) -> str:
        if not obj.avatar:
            return "—"
        return format_html(
            '<img src="{}" alt="" class="oa-avatar" width="48" height="48">', obj.avatar
        )

    @admin.display(description=gettext_lazy("OAuth Callback URL"))
    def callback_url_display(self, obj: OfficialAccount) -> str:
        return _copyable("callback-url", obj.callback_url) if obj.pk else "—"

    @admin.display(description=gettext_lazy("Webhook URL"))
    def webhook_url_display(self, obj: OfficialAccount) -> str:
        return _copyable("webhook-url", obj.webhook_url) if obj.pk else "—"

    @admin.display(description=gettext_lazy("Webhook signature variant"))
    def webhook_mac_display(self, obj: OfficialAccount) -> str:
        return _mac_variant(obj.app) if obj.pk else "—"

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/authorize/",
                wrap(self.authorize_view),
                name="accounts_officialaccount_authorize",
            ),
            path(
                "<int:pk>/clear-oauth-session/",
                wrap(self.clear_session_view),
                name="accounts_officialaccount_clear_session",
            ),
            path(
                "<int:pk>/sync-profile/",
                wrap(self.sync_profile_view),
                name="accounts_officialaccount_sync_profile",
            ),
            *super().get_urls(),
        ]

    def _oa_for_change(self, request: HttpRequest, pk: int) -> OfficialAccount:
        oa = get_object_or_404(OfficialAccount.objects.select_related("app"), pk=pk)
        if not self.has_change_permission(request, oa):
            raise PermissionDenied
        return oa

    def _back(self, oa: OfficialAccount) -> HttpResponseRedirect:
        return redirect(reverse("admin:accounts_officialaccount_change", args=[oa.pk]))

    def authorize_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return self._back(self._oa_for_change(request, pk))
        oa = self._oa_for_change(request, pk)
        try:
            browser = browser_binding(request.session, create=True)
            return HttpResponseRedirect(oauth_start(oa=oa, actor=request.user, browser=browser))
        except OAuthFailure as failure:
            self.message_user(request, failure.message, messages.ERROR)
            return self._back(oa)

    def clear_session_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        oa = self._oa_for_change(request, pk)
        pending = oa.oauth_sessions.filter(status=OAuthSession.Status.PENDING)
        if request.method == "POST":
            deleted = oauth_clear_sessions(oa=oa)
            self.message_user(
                request, _("Deleted %d incomplete OAuth session(s).") % deleted, messages.SUCCESS
            )
            return self._back(oa)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": oa,
            "sessions": pending,
            "title": _("Clear OAuth Session"),
        }
        return TemplateResponse(
            request, "admin/accounts/officialaccount/clear_session.html", context
        )

    def sync_profile_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        oa = self._oa_for_change(request, pk)
        if request.method == "POST":
            try:
                oa_sync_profile(oa=oa)
            except (ZaloError, TokenUnavailable, SecretUnavailable) as exc:
                self.message_user(request, _("Sync OA Profile failed: %s") % exc, messages.ERROR)
            else:
                self.message_user(request, _("OA profile synced from Zalo."), messages.SUCCESS)
        return self._back(oa)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        extra_context["statuses"] = OfficialAccount.Status.choices
        # The apps above accounts register their buttons (API logs, partners, ...).
        extra_context["oa_links"] = oa_links(request.user, object_id)
        return super().change_view(request, object_id, form_url, extra_context)


def _copyable(dom_id: str, value: str) -> str:
    return format_html(
        '<span class="copyable"><input type="text" readonly id="{}" value="{}" size="60">'
        ' <button type="button" class="button copy-button" data-copy="{}">{}</button></span>',
        dom_id,
        value,
        dom_id,
        _("Copy"),
    )


def _mac_variant(app: ZaloApp) -> str:
    """Which variant of the webhook signature Zalo's deliveries matched, and when last."""
    if not app.pk or not app.webhook_mac_variant:
        return _("None yet: no webhook delivery has been accepted.")
    return format_html(
        '<span id="webhook-mac-variant" data-variant="{}">{}</span> — {}',
        app.webhook_mac_variant,
        variant_label(app.webhook_mac_variant),
        _("last matched %(when)s")
        % {"when": date_format(localtime(app.webhook_mac_matched_at), "DATETIME_FORMAT")}
        if app.webhook_mac_matched_at
        else "—",
    )
