from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InboxConfig(AppConfig):
    name = "zalohub.inbox"
    label = "inbox"
    verbose_name = _("Inbox")

    def ready(self) -> None:
        from zalohub.inbox import sync

        sync.connect()
