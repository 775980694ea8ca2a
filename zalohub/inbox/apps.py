from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InboxConfig(AppConfig):
    name = "zalohub.inbox"
    label = "inbox"
    verbose_name = _("Inbox")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from zalohub.accounts.scope import register_oa_membership
        from zalohub.core.roles import ALL, CS_AGENT, ZALO_ADMIN, register_role_grants
        from zalohub.inbox import access, removal, report_summary, rollup, search  # noqa: F401

        rollup.connect()
        # The reports' summary follows the admin's edits and deletions too.
        report_summary.connect()
        # SQLite drops a table's triggers when Django rebuilds it: the search index's
        # are put back after every migrate.
        post_migrate.connect(search.after_migrate, sender=self)
        # Memberships decide which OAs an agent acts in, everywhere (not only the inbox).
        register_oa_membership(access.member_oa_ids)
        # CS agents only *view* the inbox's rows: memberships are managed by Zalo Admins
        # (an agent who could add one could enter any OA), and conversations are answered
        # and assigned in the inbox, whose rules (members only) the admin's form bypasses.
        register_role_grants("inbox", {ZALO_ADMIN: ALL, CS_AGENT: {"view_conversation"}})
