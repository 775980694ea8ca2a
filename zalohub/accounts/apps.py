from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "zalohub.accounts"
    label = "accounts"
    verbose_name = _("Zalo accounts")

    def ready(self) -> None:
        from zalohub.accounts import tasks  # noqa: F401  (registers periodic jobs)
