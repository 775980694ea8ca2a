from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zalohub.accounts.scope import OAScopedAdminMixin, is_zalo_admin
from zalohub.core.admin_links import ReadonlyLinksMixin
from zalohub.inbox.models import Conversation, OAMembership


@admin.register(OAMembership)
class OAMembershipAdmin(ReadonlyLinksMixin, admin.ModelAdmin):
    """Who answers which OA: managed by Zalo Admins only, whatever else a role grants
    (a member of one OA who could add a membership could enter every OA)."""

    list_display = ["user", "oa", "created_at"]
    list_filter = ["oa"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "oa__name"]
    list_select_related = ["user", "oa"]
    fields = ["user", "oa", "created_at"]
    readonly_fields = ["created_at"]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # A plain list of active users, not an autocomplete: the autocomplete asks the
        # user admin, which a Zalo Admin (no auth permissions) is refused (403).
        if db_field.name == "user":
            users = get_user_model().objects.filter(is_active=True)
            kwargs["queryset"] = users.order_by("username")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_zalo_admin(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return is_zalo_admin(request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_zalo_admin(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return is_zalo_admin(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return is_zalo_admin(request.user) and super().has_delete_permission(request, obj)


@admin.register(Conversation)
class ConversationAdmin(ReadonlyLinksMixin, OAScopedAdminMixin, admin.ModelAdmin):
    """Read-only: conversations are kept by the pipeline and answered in the inbox."""

    list_display = ["customer", "oa", "last_message_at", "unread_count", "assigned_to"]
    # Only the OAs present in the (scoped) list: never other OAs' names.
    list_filter = [("oa", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["zalo_user_id", "partner_link__display_name", "partner_link__partner__name"]
    list_select_related = ["oa", "assigned_to", "partner_link__partner"]
    readonly_fields = [
        "oa",
        "zalo_user_id",
        "partner_link",
        "last_message_shown",
        "last_message_at",
        "last_inbound_at",
        "unread_count",
        "updated_at",
        "created_at",
    ]
    fields = [*readonly_fields, "assigned_to"]

    @admin.display(description=gettext_lazy("Customer"), ordering="partner_link__partner__name")
    def customer(self, obj: Conversation) -> str:
        # The name staff know, the Zalo user id on hover (the id alone until linked).
        name = obj.customer_name() or obj.zalo_user_id
        title = _("Zalo user ID %(id)s") % {"id": obj.zalo_user_id}
        return format_html('<span title="{}">{}</span>', title, name)

    @admin.display(description=Conversation._meta.get_field("last_message").verbose_name)
    def last_message_shown(self, obj: Conversation) -> str:
        # What was said, and by whom (a message's own name is its kind and the user id).
        message = obj.last_message
        if message is None:
            return "-"
        said = message.text or f"[{message.get_kind_display()}]"
        return f"{message.get_direction_display()}: {Truncator(said).chars(160)}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


from zalohub.inbox import team_admin  # noqa: E402, F401  (the team's settings, issue 19)
