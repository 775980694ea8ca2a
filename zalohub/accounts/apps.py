from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "zalohub.accounts"
    label = "accounts"
    verbose_name = _("Zalo accounts")

    def ready(self) -> None:
        from zalohub.accounts import tasks  # noqa: F401  (registers periodic jobs)
        from zalohub.core.roles import ALL, ZALO_ADMIN, register_role_grants

        register_role_grants("accounts", {ZALO_ADMIN: ALL})
