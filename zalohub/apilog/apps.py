from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiLogConfig(AppConfig):
    name = "zalohub.apilog"
    label = "apilog"
    verbose_name = _("API logs")

    def ready(self) -> None:
        from zalohub.accounts.links import register_oa_link
        from zalohub.apilog import removal, services  # noqa: F401  (removal)
        from zalohub.core.roles import ALL, ZALO_ADMIN, ZALO_EVENTS, register_role_grants
        from zalohub.zalo.transport import add_recorder

        add_recorder(services.record_call)
        add_recorder(services.observe_call)
        # The Zalo Events auditor reads the (redacted) API logs its events' forms link to;
        # CS agents never see them (tokens and customers' data pass through the calls).
        register_role_grants("apilog", {ZALO_ADMIN: ALL, ZALO_EVENTS: {"view_apilog"}})
        register_oa_link(
            "btn-api-logs",
            _("API Logs"),
            "admin:apilog_apilog_changelist",
            permission="apilog.view_apilog",
            list_filter="oa__id__exact",
        )
