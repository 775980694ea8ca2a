"""The three roles, as Django groups.

The groups themselves are created by a migration; their permissions are granted after
every migrate, so an app that lands later (events, inbox, ...) adds its permissions here
without a migration that reaches into other apps.
"""

from typing import Any

from django.apps import apps as global_apps

ZALO_ADMIN = "Zalo Admin"
CS_AGENT = "CS Agent"
ZALO_EVENTS = "Zalo Events"

# App labels whose every permission a Zalo Admin holds. Not "events": the Zalo Events
# list is granted separately, even to admins (the seed: "access is granted by Admin").
ADMIN_APPS = {"accounts", "apilog", "partners", "inbox", "zbs", "diagnostics", "api"}
# CS agents: inbox and contacts, never tokens, secrets or API logs. Only *view* of the
# inbox's rows: memberships are managed by Zalo Admins (an agent who could add one could
# enter any OA), and conversations are answered and assigned in the inbox, whose rules
# (members only) the admin's change form would bypass.
AGENT_PERMISSIONS = {
    "inbox": {"view_conversation"},
    "partners": {"view_partner", "change_partner", "view_zalopartnerlink"},
    # When the reply window has closed, the inbox offers an approved template instead.
    "zbs": {"view_template", "send_template"},
}
# Granted separately by an admin: the Zalo Events list, and the API logs its events'
# forms link to (the seed: API Logs button on the message form in Zalo Events).
EVENTS_PERMISSIONS = {"events": None, "apilog": {"view_apilog"}}


def _grant(group: Any, permission_model: Any, spec: dict[str, set[str] | None]) -> None:
    """Give the role exactly ``spec``: set, not add, so a grant this module no longer
    makes (the agent's old add/change/delete of memberships) is taken back on the next
    migrate. Extra rights for someone belong in a group of the operator's own."""
    granted = []
    for app_label, codenames in spec.items():
        qs = permission_model.objects.filter(content_type__app_label=app_label)
        if codenames is not None:
            qs = qs.filter(codename__in=codenames)
        granted.extend(qs)
    group.permissions.set(granted)


def sync_role_permissions(sender: Any = None, apps: Any = None, **kwargs: Any) -> None:
    registry = apps or global_apps
    try:
        group_model = registry.get_model("auth", "Group")
        permission_model = registry.get_model("auth", "Permission")
    except LookupError:
        return
    # The migration creates the groups; a flush (tests) empties the table, so make sure.
    groups = {
        name: group_model.objects.get_or_create(name=name)[0]
        for name in (ZALO_ADMIN, CS_AGENT, ZALO_EVENTS)
    }
    if admin := groups.get(ZALO_ADMIN):
        _grant(admin, permission_model, dict.fromkeys(ADMIN_APPS))
    if agent := groups.get(CS_AGENT):
        _grant(agent, permission_model, AGENT_PERMISSIONS)
    if events := groups.get(ZALO_EVENTS):
        _grant(events, permission_model, EVENTS_PERMISSIONS)
