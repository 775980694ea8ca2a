"""The team's settings in the admin (issue 19), for Zalo Admins: each OA's assignment
policy, each agent's capacity (and presence, read-only), saved replies, labels."""

from django.contrib import admin
from django.http import HttpRequest

from zalohub.accounts.scope import is_zalo_admin
from zalohub.core.admin_links import ReadonlyLinksMixin
from zalohub.inbox.models import Agent, InboxPolicy, Label, SavedReply


class ZaloAdminOnly(ReadonlyLinksMixin, admin.ModelAdmin):
    """Whatever else a role grants, only Zalo Admins manage the team's settings."""

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


@admin.register(InboxPolicy)
class InboxPolicyAdmin(ZaloAdminOnly):
    list_display = ["oa", "assignment"]
    list_select_related = ["oa"]
    fields = ["oa", "assignment"]


@admin.register(Agent)
class AgentAdmin(ZaloAdminOnly):
    list_display = ["user", "capacity", "away", "last_seen_at", "last_assigned_at"]
    list_select_related = ["user"]
    fields = ["user", "capacity", "away", "last_seen_at", "last_assigned_at"]
    readonly_fields = ["last_seen_at", "last_assigned_at"]


@admin.register(SavedReply)
class SavedReplyAdmin(ZaloAdminOnly):
    list_display = ["shortcut", "oa", "text"]
    list_filter = ["oa"]
    search_fields = ["shortcut", "text"]
    list_select_related = ["oa"]
    fields = ["shortcut", "oa", "text"]


@admin.register(Label)
class LabelAdmin(ZaloAdminOnly):
    list_display = ["name", "color"]
    fields = ["name", "color"]
