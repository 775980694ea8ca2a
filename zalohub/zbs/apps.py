from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ZbsConfig(AppConfig):
    name = "zalohub.zbs"
    label = "zbs"
    verbose_name = _("ZBS Templates")

    def ready(self) -> None:
        # Handlers join the events table; tasks and periodic jobs join the worker.
        from zalohub.zbs import handlers, tasks  # noqa: F401
