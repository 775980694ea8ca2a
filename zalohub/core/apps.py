from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "zalohub.core"
    label = "core"
    verbose_name = _("zalohub")

    def ready(self) -> None:
        from zalohub.core import checks, roles  # noqa: F401 (checks: registers its checks)

        post_migrate.connect(roles.grant_role_permissions, dispatch_uid="zalohub.roles")
