from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "zalohub.api"
    label = "api"
    verbose_name = _("Integration API")

    def ready(self) -> None:
        from zalohub.api import ratelimit  # noqa: F401  # registers api.retention
        from zalohub.core.roles import ALL, ZALO_ADMIN, register_role_grants

        # Keys are made and revoked by Zalo Admins only: a key reaches OAs and partners.
        register_role_grants("api", {ZALO_ADMIN: ALL})
