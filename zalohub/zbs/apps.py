from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ZbsConfig(AppConfig):
    name = "zalohub.zbs"
    label = "zbs"
    verbose_name = _("ZBS Templates")

    def ready(self) -> None:
        # Handlers join the events table; tasks and periodic jobs join the worker.
        from zalohub.events.outbound import register_sender
        from zalohub.zbs import handlers, tasks  # noqa: F401
        from zalohub.zbs.delivery import ZNS_TEMPLATES

        register_sender(ZNS_TEMPLATES)
