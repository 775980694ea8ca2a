from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "zalohub.api"
    label = "api"
    verbose_name = _("Integration API")

    def ready(self) -> None:
        from zalohub.api import (
            ratelimit,  # noqa: F401  # registers api.retention
            removal,  # noqa: F401  (its data-removal remover)
        )
        from zalohub.core.roles import ZALO_ADMIN, register_role_grants

        # Keys are made and revoked by Zalo Admins only: a key reaches OAs and partners.
        # The rate windows and kept idempotent answers are the API's own bookkeeping, on
        # no admin page: nobody is granted them.
        keys = {f"{action}_apikey" for action in ("add", "change", "delete", "view")}
        register_role_grants("api", {ZALO_ADMIN: keys})
