from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "zalohub.events"
    label = "events"
    verbose_name = _("Zalo Events")

    def ready(self) -> None:
        from zalohub.events import identity, ratelimit, tasks  # noqa: F401  (handlers, jobs, loop)
        from zalohub.zalo.transport import add_recorder

        add_recorder(ratelimit.record_call)
