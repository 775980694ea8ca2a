"""API keys in the admin: a Zalo Admin creates one (its text shown once, on the page
that answers the form), scopes it, watches its last use, and revokes it."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from zalohub.api.keys import key_new_secret, key_revoke
from zalohub.api.models import ApiKey, Capability
from zalohub.core.admin_links import ReadonlyLinksMixin


class ApiKeyForm(forms.ModelForm):
    capabilities = forms.MultipleChoiceField(
        label=_("capabilities"),
        choices=Capability.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = ApiKey
        fields = ("name", "oas", "capabilities", "rate_limit_per_minute")
        widgets = {"oas": forms.CheckboxSelectMultiple}

    def clean_rate_limit_per_minute(self) -> int:
        value = int(self.cleaned_data["rate_limit_per_minute"])
        if value < 1:
            raise forms.ValidationError(_("At least one request a minute."))
        return value


@admin.register(ApiKey)
class ApiKeyAdmin(ReadonlyLinksMixin, admin.ModelAdmin):
    form = ApiKeyForm
    list_display = (
        "name",
        "prefix",
        "capability_list",
        "oa_list",
        "state",
        "last_used_at",
        "last_used_ip",
        "created_at",
    )
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix")
    readonly_fields = (
        "prefix",
        "created_by",
        "created_at",
        "revoked_at",
        "last_used_at",
        "last_used_ip",
    )
    actions = ("revoke",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKey]:
        return super().get_queryset(request).prefetch_related("oas")

    @admin.display(description=_("capabilities"))
    def capability_list(self, obj: ApiKey) -> str:
        labels = dict(Capability.choices)
        return ", ".join(str(labels.get(c, c)) for c in obj.capabilities)

    @admin.display(description=_("official accounts"))
    def oa_list(self, obj: ApiKey) -> str:
        return ", ".join(oa.name for oa in obj.oas.all())

    @admin.display(description=_("state"))
    def state(self, obj: ApiKey) -> str:
        return str(_("Active")) if obj.active else str(_("Revoked"))

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if not change:
            obj.created_by_id = request.user.pk
            # Kept on the request only: the page that answers the form shows it once.
            request._api_key_text = key_new_secret(obj)  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def response_add(
        self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": _("API key created"),
            "key": obj,
            "key_text": getattr(request, "_api_key_text", ""),
            "opts": self.model._meta,
            "done_url": reverse("admin:api_apikey_changelist"),
        }
        return TemplateResponse(request, "admin/api/apikey/created.html", context)

    @admin.action(description=_("Revoke selected API keys"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        done = sum(key_revoke(key=key) for key in queryset)
        self.message_user(
            request,
            ngettext("%d key revoked.", "%d keys revoked.", done) % done,
            messages.SUCCESS,
        )
