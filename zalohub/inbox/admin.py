from django.contrib import admin

from zalohub.inbox.models import Conversation, OAMembership


@admin.register(OAMembership)
class OAMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "oa", "created_at"]
    list_filter = ["oa"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "oa__name"]
    autocomplete_fields = ["user"]
    list_select_related = ["user", "oa"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """Read-only: conversations are kept by the pipeline and answered in the inbox."""

    list_display = ["zalo_user_id", "oa", "last_message_at", "unread_count", "assigned_to"]
    list_filter = ["oa"]
    search_fields = ["zalo_user_id", "partner_link__display_name", "partner_link__partner__name"]
    list_select_related = ["oa", "assigned_to"]
    readonly_fields = [
        "oa",
        "zalo_user_id",
        "partner_link",
        "last_message",
        "last_message_at",
        "last_inbound_at",
        "unread_count",
        "updated_at",
        "created_at",
    ]
    fields = [*readonly_fields, "assigned_to"]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False
