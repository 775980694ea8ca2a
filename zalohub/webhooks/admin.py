"""Subscriptions for the Zalo Admins: the form, its secret and Rotate secret, Send test
event, Replay of a time range; the delivery log (each delivery with its attempts:
request headers, answer, duration) and Replay of one delivery."""

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from zalohub.core.admin_links import ReadonlyLinksMixin
from zalohub.core.records import RecordAdminMixin
from zalohub.events.outbound.replay_admin import ReplayMixin
from zalohub.webhooks import services
from zalohub.webhooks.forms import ReplayForm, SubscriptionForm
from zalohub.webhooks.models import Delivery, DeliveryAttempt, Subscription
from zalohub.webhooks.signing import new_secret


def _queued(count: int) -> str:
    return ngettext(
        "%(count)s delivery queued again.", "%(count)s deliveries queued again.", count
    ) % {"count": count}


@admin.register(Subscription)
class SubscriptionAdmin(ReadonlyLinksMixin, admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ("name", "url", "active", "events_shown", "failure_streak", "disabled_shown")
    list_filter = ("active",)
    search_fields = ("name", "url")
    filter_horizontal = ("oas",)
    readonly_fields = ("secret_shown", "disabled_shown", "failure_streak", "deliveries_link")
    change_form_template = "admin/webhooks/subscription/change_form.html"

    @admin.display(description=gettext_lazy("Events"))
    def events_shown(self, obj: Subscription) -> str:
        return ", ".join(obj.event_types) or _("every event")

    @admin.display(description=gettext_lazy("Disabled because"))
    def disabled_shown(self, obj: Subscription) -> str:
        return obj.disabled_text

    @admin.display(description=gettext_lazy("Signing secret"))
    def secret_shown(self, obj: Subscription) -> str:
        if not obj.pk:
            return _("Made when the subscription is saved.")
        extra = ""
        if obj.previous_secret and obj.previous_secret_until:
            extra = _(" (the previous secret signs too until %s)") % obj.previous_secret_until
        return format_html('<code id="webhook-secret">{}</code>{}', obj.secret, extra)

    @admin.display(description=gettext_lazy("Delivery log"))
    def deliveries_link(self, obj: Subscription) -> str:
        if not obj.pk:
            return "—"
        url = reverse("admin:webhooks_delivery_changelist") + f"?subscription__id__exact={obj.pk}"
        return format_html('<a id="delivery-log" href="{}">{}</a>', url, _("Deliveries"))

    def save_model(self, request: HttpRequest, obj: Subscription, form: Any, change: bool) -> None:
        if not change:
            obj.secret = new_secret()
        elif "active" in form.changed_data and obj.active:
            # Enabled again: the failures start over, and what it still owes goes out.
            obj.disabled_reason, obj.disabled_reason_i18n, obj.disabled_at = "", None, None
            obj.failure_streak, obj.failing_since = 0, None
        super().save_model(request, obj, form, change)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/send-test/", wrap(self.send_test_view), name="webhooks_send_test"),
            path("<int:pk>/rotate-secret/", wrap(self.rotate_view), name="webhooks_rotate_secret"),
            path("<int:pk>/replay/", wrap(self.replay_view), name="webhooks_replay_range"),
            *super().get_urls(),
        ]

    def _allowed(self, request: HttpRequest, pk: int) -> Subscription:
        sub = get_object_or_404(Subscription, pk=pk)
        if not self.has_change_permission(request, sub):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        return sub

    def _back(self, sub: Subscription) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:webhooks_subscription_change", args=[sub.pk]))

    def send_test_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        sub = self._allowed(request, pk)
        delivery = services.subscription_send_test(subscription_id=sub.pk)
        messages.success(
            request, _("A test event (%(id)s) is on its way.") % {"id": delivery.webhook_id}
        )
        return self._back(sub)

    def rotate_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        sub = self._allowed(request, pk)
        services.subscription_rotate_secret(subscription_id=sub.pk)
        messages.success(
            request, _("A new secret signs now; the previous one signs alongside it for a while.")
        )
        return self._back(sub)

    def replay_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        sub = self._allowed(request, pk)
        form = ReplayForm(request.POST)
        if not form.is_valid():
            for error in form.errors.as_data().values():
                messages.error(request, "; ".join(e.messages[0] for e in error))
            return self._back(sub)
        count = services.deliveries_replay(
            subscription_id=sub.pk,
            since=form.cleaned_data["since"],
            until=form.cleaned_data["until"],
            failed_only=form.cleaned_data["failed_only"],
        )
        messages.success(request, _queued(count))
        return self._back(sub)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {**(extra_context or {}), "replay_form": ReplayForm()}
        return super().change_view(request, object_id, form_url, context)


class AttemptInline(ReadonlyLinksMixin, admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = (
        "number",
        "started_at",
        "duration_ms",
        "status",
        "result",
        "error",
        "response_body",
        "request_headers",
        "worker",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReplayMixin, ReadonlyLinksMixin, RecordAdminMixin, admin.ModelAdmin):
    """The delivery log; Replay (the action, a delivery's button) is the pipeline's,
    through the lane that holds deliveries (``ReplayMixin``)."""

    list_display = (
        "created_at",
        "event_type",
        "webhook_id",
        "subscription",
        "state",
        "attempts",
        "last_status",
        "delivered_at",
    )
    list_filter = ("state", "event_type", "subscription", "is_test")
    search_fields = ("webhook_id",)
    date_hierarchy = "created_at"
    list_select_related = ("subscription",)
    inlines = [AttemptInline]
    readonly_fields = (
        "subscription",
        "webhook_id",
        "event_type",
        "oa_id",
        "body",
        "is_test",
        "replay_of",
        "state",
        "attempts",
        "next_attempt_at",
        "last_status",
        "last_error",
        "delivered_at",
        "created_at",
    )
    fields = readonly_fields
    change_form_template = "admin/webhooks/delivery/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def replayed(self, count: int) -> str:
        return _queued(count)
