from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiLogConfig(AppConfig):
    name = "zalohub.apilog"
    label = "apilog"
    verbose_name = _("API logs")

    def ready(self) -> None:
        from zalohub.apilog import services
        from zalohub.zalo.transport import add_recorder

        add_recorder(services.record_call)
