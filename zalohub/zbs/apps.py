from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ZbsConfig(AppConfig):
    name = "zalohub.zbs"
    label = "zbs"
    verbose_name = _("ZBS Templates")

    def ready(self) -> None:
        # Handlers join the events table; tasks and periodic jobs join the worker.
        from zalohub.events.models import Message
        from zalohub.events.sending import RESENDERS
        from zalohub.zbs import handlers, tasks  # noqa: F401
        from zalohub.zbs.sending import template_resend

        RESENDERS[Message.Kind.TEMPLATE] = template_resend
