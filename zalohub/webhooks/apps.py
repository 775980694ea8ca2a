from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "zalohub.webhooks"
    label = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self) -> None:
        from zalohub.core.roles import ALL, ZALO_ADMIN, register_role_grants
        from zalohub.events.outbound.lanes import register_lane
        from zalohub.webhooks import produce, removal, tasks, watch  # noqa: F401  (jobs)
        from zalohub.webhooks.lane import DELIVERIES

        register_role_grants("webhooks", {ZALO_ADMIN: ALL})
        # Deliveries are a lane of the outbound pipeline: its loop, claim and sweep.
        register_lane(DELIVERIES)
        produce.connect()
        watch.connect()
