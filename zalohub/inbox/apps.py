from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InboxConfig(AppConfig):
    name = "zalohub.inbox"
    label = "inbox"
    verbose_name = _("Inbox")

    def ready(self) -> None:
        from zalohub.accounts.scope import register_oa_membership
        from zalohub.inbox import access, sync

        sync.connect()
        # Memberships decide which OAs an agent acts in, everywhere (not only the inbox).
        register_oa_membership(access.member_oa_ids)
