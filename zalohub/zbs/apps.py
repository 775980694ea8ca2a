from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ZbsConfig(AppConfig):
    name = "zalohub.zbs"
    label = "zbs"
    verbose_name = _("ZBS Templates")

    def ready(self) -> None:
        # Handlers join the events table; tasks and periodic jobs join the worker.
        from zalohub.accounts.links import register_oa_link
        from zalohub.core.roles import ALL, CS_AGENT, ZALO_ADMIN, register_role_grants
        from zalohub.events.outbound import register_sender
        from zalohub.events.window_offers import register_window_offers
        from zalohub.zbs import handlers, removal, tasks  # noqa: F401
        from zalohub.zbs.delivery import ZNS_TEMPLATES
        from zalohub.zbs.window_offers import PROVIDER as WINDOW_OFFERS

        register_sender(ZNS_TEMPLATES)
        # When the reply window has closed, the inbox offers agents an approved template.
        register_window_offers(WINDOW_OFFERS)
        register_role_grants("zbs", {ZALO_ADMIN: ALL, CS_AGENT: {"view_template", "send_template"}})
        register_oa_link(
            "btn-zbs-templates",
            _("ZBS Templates"),
            "admin:zbs_template_changelist",
            permission="zbs.view_template",
            list_filter="oa__id__exact",
        )
