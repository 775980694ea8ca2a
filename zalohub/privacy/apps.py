from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "zalohub.privacy"
    label = "privacy"
    verbose_name = _("Privacy")

    def ready(self) -> None:
        from zalohub.core.roles import ALL, ZALO_ADMIN, register_role_grants

        # user_withdraw's handler; the remover of the admin's history.
        from zalohub.privacy import handlers, removal  # noqa: F401

        # A data-removal request is confirmed by a Zalo Admin, and only by one.
        register_role_grants("privacy", {ZALO_ADMIN: ALL})
