from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PartnersConfig(AppConfig):
    name = "zalohub.partners"
    label = "partners"
    verbose_name = _("Partners")

    def ready(self) -> None:
        from zalohub.accounts.links import register_oa_link
        from zalohub.core.roles import ALL, CS_AGENT, ZALO_ADMIN, register_role_grants
        from zalohub.partners import hooks, removal, tasks  # noqa: F401  (jobs, remover)

        hooks.connect()  # partners and links created one at a time reach the subscribers

        # CS agents keep contacts clean: they see and edit partners, and see their links.
        agent = {"view_partner", "change_partner", "view_zalopartnerlink"}
        register_role_grants("partners", {ZALO_ADMIN: ALL, CS_AGENT: agent})
        register_oa_link(
            "btn-zalo-partners",
            _("Zalo Partners"),
            "admin:partners_zalopartnerlink_changelist",
            permission="partners.view_zalopartnerlink",
            list_filter="oa__id__exact",
        )
