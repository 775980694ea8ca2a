from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "zalohub.events"
    label = "events"
    verbose_name = _("Zalo Events")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from zalohub.accounts import ratelimit
        from zalohub.accounts.links import register_oa_link
        from zalohub.accounts.models import OfficialAccount, ZaloApp
        from zalohub.accounts.signals import oa_fixed
        from zalohub.core.roles import ALL, ZALO_EVENTS, register_role_grants
        from zalohub.events import (  # noqa: F401  (jobs)
            history,
            hooks,
            removal,
            tasks,
        )
        from zalohub.events.ingestion import lookups
        from zalohub.events.models import Message
        from zalohub.events.outbound import register_sender
        from zalohub.events.outbound.lanes import register_lane
        from zalohub.events.outbound.oa_message import OA_MESSAGES
        from zalohub.events.outbound.zalo_lane import ZALO_SENDS
        from zalohub.events.processing import identity, user_data  # noqa: F401  (handlers)
        from zalohub.events.processing.attribution import requeue_for_oa
        from zalohub.partners.services import register_call_budget
        from zalohub.zalo.transport import add_recorder

        # Webhook lookups are forgotten here at once and, through Redis, in every process.
        for model in (ZaloApp, OfficialAccount):
            post_save.connect(lookups.changed, sender=model, dispatch_uid=f"ingest-{model}")
            post_delete.connect(lookups.changed, sender=model, dispatch_uid=f"ingest-d-{model}")

        # Events that waited for their OA are processed once it is authorized.
        oa_fixed.connect(requeue_for_oa, dispatch_uid="events.requeue_for_oa")
        # A message created one at a time reaches hooks.on_message_stored as a batch of one.
        post_save.connect(hooks.message_saved, sender=Message, dispatch_uid="events.stored")
        # OA messages are one kind of send; zbs registers its templates the same way.
        register_sender(OA_MESSAGES)
        register_lane(ZALO_SENDS)  # the sends' rows; webhooks registers its deliveries'
        # A newly authorized OA's recent conversations are loaded from Zalo (and on demand).
        history.connect()
        register_oa_link(
            "btn-zalo-history",
            _("Load Zalo history"),
            "admin:events_history",
            permission="accounts.change_officialaccount",
        )
        add_recorder(ratelimit.record_call)
        # Profile fetches (partners) spend the same per-app budget as sends.
        register_call_budget(ratelimit.acquire)
        # Not even Zalo Admins: the Zalo Events list is granted separately, by an admin
        # (the seed: "access is granted by Admin").
        register_role_grants("events", {ZALO_EVENTS: ALL})
