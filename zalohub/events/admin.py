"""The Zalo Events list: only for users granted the "Zalo Events" role (no menu otherwise).

The form's buttons (Retry Processing, Resend, Mark Error) and the list's actions on a
selection run the same functions of ``zalohub.events.actions``.
"""

import json
from collections.abc import Callable, Iterator
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.dateformat import format as date_format
from django.utils.html import escape, format_html
from django.utils.http import urlencode
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zalohub.accounts.models import OfficialAccount
from zalohub.apilog.models import ApiLog
from zalohub.core.admin_links import ReadonlyLinksMixin
from zalohub.core.stored_text import shown_reason
from zalohub.events.actions import (
    ActionRefused,
    can_mark_error,
    can_resend,
    can_retry_processing,
    event_mark_error,
    event_retry_processing,
    message_resend,
)
from zalohub.events.admin_history import history_urls
from zalohub.events.models import (
    EventAttempt,
    ProcessingState,
    RejectedRequest,
    ZaloEvent,
    ZaloState,
)
from zalohub.events.processing.retrying import retry_state, successor_annotation, superseded
from zalohub.partners.models import ZaloPartnerLink, shown_name
from zalohub.zalo import catalogue

API_LOGS_SHOWN = 20


class QuickFilter(admin.SimpleListFilter):
    title = gettext_lazy("Quick filter")
    parameter_name = "quick"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("errors", _("Errors")), ("failed", _("Failed Deliveries"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "errors":
            # A send that Resend replaced is no longer an open error: its successor is.
            return queryset.filter(processing_state=ProcessingState.ERROR).exclude(superseded())
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


def _customer_name() -> Subquery:
    """The event's customer as staff know them: the partner of its link (OA, user id)."""
    links = ZaloPartnerLink.objects.filter(
        oa_id=OuterRef("oa_id"), zalo_user_id=OuterRef("zalo_user_id")
    )
    return Subquery(links.values("partner__name")[:1])


def _partners(pairs: list[tuple[int | None, str]]) -> dict[str, tuple[int, str]]:
    """Zalo user id -> (partner, its name), for these (OA, user id) pairs."""
    by_oa: dict[int, list[str]] = {}
    for oa_id, user_id in pairs:
        if oa_id is not None:
            by_oa.setdefault(oa_id, []).append(user_id)
    if not by_oa:
        return {}
    query = Q()
    for oa_id, user_ids in by_oa.items():
        query |= Q(oa_id=oa_id, zalo_user_id__in=user_ids)
    links = ZaloPartnerLink.objects.filter(query)
    return {
        user_id: (partner_id, shown_name(name))
        for user_id, partner_id, name in links.values_list(
            "zalo_user_id", "partner_id", "partner__name"
        )
    }


def same_customer(user_id: str) -> list[str]:
    """The Zalo user ids of the customer that ``user_id`` is, on every OA and app (each
    gives them another): the ids of its partner's links, with ``user_id`` itself. A few
    ids, read first: the events are then found by their user-id index (an OR with a
    subquery would read the whole events table)."""
    # Links are unique per (OA, user id): asked per OA (a handful), that index finds them.
    oas = list(OfficialAccount.objects.values_list("pk", flat=True))
    mine = ZaloPartnerLink.objects.filter(oa_id__in=oas, zalo_user_id=user_id)
    partners = mine.values("partner_id")
    same = ZaloPartnerLink.objects.filter(partner_id__in=partners).values_list("zalo_user_id")
    return sorted({user_id, *(found for (found,) in same)})


class OAFilter(admin.RelatedFieldListFilter):
    """By OA; the events of no OA zalohub knows (an OA not connected yet, or deleted)
    under words, where Django shows a dash."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.empty_value_display = escape(_("No known OA"))


class CustomerFilter(admin.SimpleListFilter):
    """A box for a name or any Zalo user id, and the customers of the latest events as
    links, by name (the id on hover)."""

    title = gettext_lazy("Customer")
    parameter_name = "customer"
    template = "admin/events/zaloevent/customer_filter.html"
    hidden: list[tuple[str, str]]
    all_ids: dict[str, str]  # a choice's user id -> every id of that customer (for its hover)

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        # The latest events only: a DISTINCT over the whole table would not stay cheap.
        recent = (
            ZaloEvent.objects.exclude(zalo_user_id="")
            .order_by("-received_at", "-id")
            .values_list("oa_id", "zalo_user_id")[:500]
        )
        # (OA, user id): a Zalo user id is per OA, and the links are indexed that way.
        pairs: list[tuple[int | None, str]] = [*list(dict.fromkeys(recent))[:15]]
        value = self.value()
        if value and value not in {user_id for _oa, user_id in pairs}:
            chosen = ZaloEvent.objects.filter(zalo_user_id=value).values_list("oa_id")[:1]
            pairs.insert(0, (next((oa for (oa,) in chosen), None), value))
        partners = _partners(pairs)
        # One real customer once, under the first of their ids (all of them on hover):
        # each OA gives them another, and the filter finds the events of every one.
        ids: dict[object, list[str]] = {}
        for _oa, user_id in pairs:
            partner = partners.get(user_id)
            same = ids.setdefault(partner[0] if partner else user_id, [])
            if user_id not in same:
                same.append(user_id)
        self.all_ids = {found[0]: ", ".join(found) for found in ids.values()}
        return [
            (found[0], partners[found[0]][1] if found[0] in partners else found[0])
            for found in ids.values()
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = (self.value() or "").strip()
        if not value:
            return queryset
        if value.isdigit():
            return queryset.filter(zalo_user_id__in=same_customer(value))
        # A name: the users whose partner or Zalo name contains it.
        named = ZaloPartnerLink.objects.filter(
            Q(partner__name__icontains=value) | Q(display_name__icontains=value)
        ).values("zalo_user_id")
        return queryset.filter(zalo_user_id__in=named)

    def choices(self, changelist: ChangeList) -> Iterator[Any]:
        self.hidden = [(k, v) for k, v in changelist.params.items() if k != self.parameter_name]
        choices = super().choices(changelist)
        yield next(choices)  # "All"
        # The user ids on hover: names repeat, ids do not.
        for (user_id, _name), choice in zip(self.lookup_choices, choices, strict=True):
            yield {**choice, "title": self.all_ids.get(user_id, user_id)}


class AttemptInline(ReadonlyLinksMixin, admin.TabularInline):
    model = EventAttempt
    extra = 0
    can_delete = False
    readonly_fields = [
        "number",
        "started_at",
        "call_started_at",
        "finished_at",
        "result",
        "error_code",
        "error_text",
        "zalo_msg_id",
        "worker",
    ]
    fields = tuple(readonly_fields)
    verbose_name_plural = gettext_lazy("History of attempts")

    @admin.display(description=gettext_lazy("error message"))
    def error_text(self, obj: EventAttempt) -> str:
        return shown_reason(obj, "error_message")

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def _badge(kind: str, value: str, label: str) -> str:
    return format_html(
        '<span class="zh-badge zh-{}-{}">{}</span>', kind, value or "none", label or "—"
    )


@admin.register(ZaloEvent)
class ZaloEventAdmin(ReadonlyLinksMixin, admin.ModelAdmin):
    # The two states first: they are what the list is opened for.
    list_display = [
        "time",
        "processing_state_badge",
        "zalo_state_badge",
        "event_name",
        "oa",
        "customer",
        "error_summary",
    ]
    list_filter = [
        QuickFilter,
        "processing_state",
        ZaloStateFilter,
        ("oa", OAFilter),
        CustomerFilter,
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
                    "customer",
                    "processing_state_badge",
                    "zalo_state_badge",
                    "outcome_shown",
                ]
            },
        ),
        (gettext_lazy("Error"), {"fields": ["error_category", "error_text", "error_at"]}),
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
        return self.as_texts(request, [f for fs in self.fieldsets for f in fs[1]["fields"]])

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ZaloEvent | None = None) -> bool:
        return False

    # --- columns and fields --------------------------------------------------------
    @admin.display(description=gettext_lazy("outcome"))
    def outcome_shown(self, obj: ZaloEvent) -> str:
        """The outcome, and for an event Zalo may send that the hub only records (a
        group chat's, a call's...), which kind of event it is."""
        shown = obj.get_outcome_display()
        kind = catalogue.family(obj.event_name)
        if kind and shown:
            return f"{shown} ({_(catalogue.FAMILY_LABELS[kind])})"
        return shown or "—"

    @admin.display(description=gettext_lazy("Time"), ordering="received_at")
    def time(self, obj: ZaloEvent) -> str:
        # Compact and to the second: the list is read next to API logs and Zalo's console.
        return date_format(localtime(obj.received_at), "Y-m-d H:i:s")

    @admin.display(description=gettext_lazy("Customer"), ordering="zalo_user_id")
    def customer(self, obj: ZaloEvent) -> str:
        if not obj.zalo_user_id:
            return "—"
        url = (
            reverse("admin:events_zaloevent_changelist")
            + "?"
            + urlencode({"customer": obj.zalo_user_id})
        )
        # The name staff know (the id on hover); the id alone until the user is linked.
        name = getattr(obj, "customer_name", None) or obj.zalo_user_id
        return format_html(
            '<a class="zh-customer" href="{}" title="{}">{}</a>',
            url,
            _("Zalo user ID %(id)s: all events of this customer") % {"id": obj.zalo_user_id},
            name,
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(successor_id=successor_annotation(), customer_name=_customer_name())
        )

    @admin.display(description=gettext_lazy("Processing State"), ordering="processing_state")
    def processing_state_badge(self, obj: ZaloEvent) -> str:
        badge = _badge("ps", obj.processing_state, obj.get_processing_state_display())
        # What comes next: the retry Zalo's failure scheduled, or the event Resend made.
        if retrying := retry_state(obj):
            return format_html(
                '{}<div class="zh-retrying" title="{}">{}</div>',
                badge,
                str(retrying),
                retrying.short,
            )
        if successor := getattr(obj, "successor_id", None):
            return format_html(
                '{}<div class="zh-successor"><a href="{}">{}</a></div>',
                badge,
                reverse("admin:events_zaloevent_change", args=[successor]),
                _("Resent as #%d") % successor,
            )
        return badge

    @admin.display(description=gettext_lazy("Zalo State"), ordering="message__zalo_state")
    def zalo_state_badge(self, obj: ZaloEvent) -> str:
        state = obj.zalo_state
        return _badge("zs", state, str(ZaloState(state).label) if state else "")

    @admin.display(description=gettext_lazy("Error"))
    def error_summary(self, obj: ZaloEvent) -> str:
        if not obj.error_message and not obj.error_category:
            return ""
        text = shown_reason(obj, "error_message")
        short = text if len(text) <= 60 else text[:57] + "…"
        return format_html(
            '<span title="{}">{}</span>', text, obj.get_error_category_display() or short
        )

    @admin.display(description=gettext_lazy("error message"))
    def error_text(self, obj: ZaloEvent) -> str:
        return shown_reason(obj, "error_message")

    @admin.display(description=gettext_lazy("text"))
    def message_text(self, obj: ZaloEvent) -> str:
        return obj.message.text if obj.message else "—"

    @admin.display(description=gettext_lazy("failure reason"))
    def message_failure(self, obj: ZaloEvent) -> str:
        if not obj.message or not obj.message.failure_reason:
            return "—"
        return shown_reason(obj.message, "failure_reason")

    @admin.display(description=gettext_lazy("raw payload"))
    def payload(self, obj: ZaloEvent) -> str:
        try:
            text = json.dumps(json.loads(obj.raw_body), ensure_ascii=False, indent=2)
        except ValueError:
            text = obj.raw_body
        return format_html('<pre class="zh-payload" id="raw-payload">{}</pre>', text)

    # --- actions (list selection and form buttons share these) -----------------------
    def _run(
        self,
        request: HttpRequest,
        events: QuerySet,
        func: Callable[[ZaloEvent], Any],
        done: str,
        log: str,
    ) -> list[Any]:
        if not self.has_change_permission(request):
            raise PermissionDenied
        results = []
        for event in events.select_related("message"):
            try:
                results.append(func(event))
            except ActionRefused as refused:
                self.message_user(request, str(refused), messages.WARNING)
            else:
                self.log_change(request, event, log)
        if results:
            self.message_user(request, done % len(results), messages.SUCCESS)
        return results

    @admin.action(description=gettext_lazy("Retry Processing"), permissions=["change"])
    def retry_processing(self, request: HttpRequest, queryset: QuerySet) -> list[Any]:
        return self._run(
            request,
            queryset,
            lambda e: event_retry_processing(event=e),
            _("%d event(s) queued for processing again."),
            _("Retry Processing"),
        )

    @admin.action(description=gettext_lazy("Resend"), permissions=["change"])
    def resend(self, request: HttpRequest, queryset: QuerySet) -> list[Any]:
        def one(event: ZaloEvent) -> ZaloEvent:
            if event.message is None:
                raise ActionRefused(_("Event #%d carries no message to resend.") % event.pk)
            return message_resend(message=event.message)

        return self._run(
            request, queryset, one, _("%d message(s) queued to send again."), _("Resend")
        )

    @admin.action(description=gettext_lazy("Mark Error"), permissions=["change"])
    def mark_error(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        if not self.has_change_permission(request):
            raise PermissionDenied
        reason = request.POST.get("reason", "").strip() if request.method == "POST" else ""
        if reason:
            self._run(
                request,
                queryset,
                lambda e: event_mark_error(event=e, reason=reason, actor=request.user),
                _("%d event(s) marked as error."),
                _("Mark Error: %s") % reason,
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
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "missing_reason": "reason" in request.POST,
                "single": getattr(request.resolver_match, "url_name", "")
                == "events_zaloevent_button",
            },
        )

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/do/<str:action>/", wrap(self.button_view), name="events_zaloevent_button"
            ),
            *history_urls(self.admin_site),
            *super().get_urls(),
        ]

    def button_view(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        """The form's buttons: the same actions on one event."""
        if not self.has_change_permission(request) or action not in self.actions:
            raise PermissionDenied
        # Only Mark Error has a page to show (its reason); nothing changes on a GET.
        if request.method != "POST" and action != "mark_error":
            raise PermissionDenied
        event = get_object_or_404(ZaloEvent, pk=pk)
        response = getattr(self, action)(request, ZaloEvent.objects.filter(pk=pk))
        if isinstance(response, HttpResponse):
            return response
        new = [r for r in response or [] if isinstance(r, ZaloEvent) and r.pk != event.pk]
        # Resend makes a new event: follow it, the old one keeps its history.
        target = new[0].pk if new else pk
        return HttpResponseRedirect(reverse("admin:events_zaloevent_change", args=[target]))

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)  # not on a redirect
        cl = context.get("cl") if context else None
        if context is not None and cl is not None:
            current = cl.params.get(QuickFilter.parameter_name)
            context["quick_links"] = [
                {
                    "key": key,
                    "label": label,
                    "url": cl.get_query_string({QuickFilter.parameter_name: key}, ["p"]),
                    "active": current == key,
                }
                for key, label in (("errors", _("Errors")), ("failed", _("Failed Deliveries")))
            ]
            context["quick_clear"] = cl.get_query_string(remove=[QuickFilter.parameter_name, "p"])
        return response

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context: dict[str, Any] = {"can_act": self.has_change_permission(request)}
        if str(object_id).isdigit():
            event = ZaloEvent.objects.select_related("message").filter(pk=object_id).first()
            if event is not None:
                context.update(self._form_context(request, event))
        return super().change_view(
            request, object_id, form_url, {**context, **(extra_context or {})}
        )

    def _form_context(self, request: HttpRequest, event: ZaloEvent) -> dict[str, Any]:
        # API logs are Admin/IT evidence: shown only to who may open the API log list.
        can_view_apilog = request.user.has_perm("apilog.view_apilog")
        linked = ApiLog.objects.filter(ref_type="event", ref_id=str(event.pk))
        query = urlencode({"ref_type": "event", "ref_id": str(event.pk)})
        return {
            "show_retry": can_retry_processing(event),
            "show_resend": can_resend(event),
            "show_mark_error": can_mark_error(event),
            "can_view_apilog": can_view_apilog,
            "apilog_url": f"{reverse('admin:apilog_apilog_changelist')}?{query}",
            "api_logs": list(linked[:API_LOGS_SHOWN]) if can_view_apilog else [],
            "api_logs_more": can_view_apilog and linked.count() > API_LOGS_SHOWN,
            # The other events of the same message (its resends): none without a message.
            "related_events": list(
                ZaloEvent.objects.filter(message_id=event.message_id)
                .exclude(pk=event.pk)
                .order_by("received_at", "id")[:20]
            )
            if event.message_id
            else [],
        }


REJECTED_COLUMNS = [
    "received_at",
    "app_id",
    "status_code",
    "reason_text",
    "remote_addr",
    "body_size",
]


@admin.register(RejectedRequest)
class RejectedRequestAdmin(ReadonlyLinksMixin, admin.ModelAdmin):
    list_display = tuple(REJECTED_COLUMNS)
    list_filter = ["status_code", "app_id"]
    search_fields = ["reason", "app_id", "body"]
    readonly_fields = [*REJECTED_COLUMNS, "headers", "body"]
    fields = tuple(readonly_fields)
    # Above the list: each allowance's use, and the requests refused beyond it (not stored).
    change_list_template = "admin/events/rejectedrequest/change_list.html"

    @admin.display(description=gettext_lazy("reason"), ordering="reason")
    def reason_text(self, obj: RejectedRequest) -> str:
        return obj.reason_shown()

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        from zalohub.events.ingestion.rejected import allowances

        return super().changelist_view(
            request, {"allowances": allowances(), **(extra_context or {})}
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
