from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DiagnosticsConfig(AppConfig):
    name = "zalohub.diagnostics"
    label = "diagnostics"
    verbose_name = _("Diagnostics")

    def ready(self) -> None:
        from zalohub.diagnostics import services  # noqa: F401  (the periodic health job)
        from zalohub.diagnostics.checks.webhook import PROBE_EVENT
        from zalohub.events.processing.handlers import ignore_event

        # The self-test's probe only proves Zalo reaches the hub.
        ignore_event(PROBE_EVENT, "the diagnostics self-test's probe, not a customer's")
        from zalohub.diagnostics import hooks

        hooks.connect()
        from zalohub.core.metrics import register_collector
        from zalohub.diagnostics.metrics import AccountCollector, QueueCollector

        register_collector(QueueCollector())
        register_collector(AccountCollector())
        from zalohub.accounts.links import register_oa_link
        from zalohub.core.roles import ALL, ZALO_ADMIN, register_role_grants

        register_role_grants("diagnostics", {ZALO_ADMIN: ALL})
        from zalohub.diagnostics.retention import register_keepers

        register_keepers()
        health = "diagnostics.view_healthsnapshot"  # the OA form's Health and Escalation
        register_oa_link(
            "btn-health",
            _("Health"),
            "admin:diagnostics_healthsnapshot_changelist",
            permission=health,
            list_filter="oa",
        )
        register_oa_link(
            "btn-escalation",
            _("Escalation"),
            "admin:diagnostics_escalation",
            permission=health,
            args=("oa",),
        )
