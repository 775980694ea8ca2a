"""The three roles, as Django groups, and what each app grants them.

The groups themselves are created by a migration; their permissions are granted after
every migrate, so an app that lands later adds its permissions without a migration that
reaches into other apps. Each app declares the grants of its own permissions in its
``AppConfig.ready()`` with ``register_role_grants``: this module names no app.
"""

from typing import Any

from django.apps import apps as global_apps

ZALO_ADMIN = "Zalo Admin"
CS_AGENT = "CS Agent"
ZALO_EVENTS = "Zalo Events"
ROLES = (ZALO_ADMIN, CS_AGENT, ZALO_EVENTS)
ALL = None  # every permission of the app, including ones a later migration adds

# app label -> role -> the codenames of the app's permissions it holds (ALL: every one).
GRANTS: dict[str, dict[str, set[str] | None]] = {}


def register_role_grants(app_label: str, grants: dict[str, set[str] | None]) -> None:
    """Declare which of ``app_label``'s permissions each role holds; a role left out
    holds none of them. Called once by the app, in its ``AppConfig.ready()``."""
    unknown = set(grants) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; the roles are {ROLES}")
    GRANTS[app_label] = {
        role: None if names is ALL else set(names) for role, names in grants.items()
    }


def role_grants(role: str) -> dict[str, set[str] | None]:
    """What ``role`` holds, by app label."""
    return {app: grants[role] for app, grants in GRANTS.items() if role in grants}


def _grant(group: Any, permission_model: Any, spec: dict[str, set[str] | None]) -> None:
    """Give the role exactly ``spec``: set, not add, so a grant no app makes any more
    (the agent's old add/change/delete of memberships) is taken back on the next
    migrate. Extra rights for someone belong in a group of the operator's own."""
    granted = []
    for app_label, codenames in spec.items():
        qs = permission_model.objects.filter(content_type__app_label=app_label)
        if codenames is not None:
            qs = qs.filter(codename__in=codenames)
        granted.extend(qs)
    group.permissions.set(granted)


def grant_role_permissions(sender: Any = None, apps: Any = None, **kwargs: Any) -> None:
    registry = apps or global_apps
    try:
        group_model = registry.get_model("auth", "Group")
        permission_model = registry.get_model("auth", "Permission")
    except LookupError:
        return
    # The migration creates the groups; a flush (tests) empties the table, so make sure.
    for name in ROLES:
        group = group_model.objects.get_or_create(name=name)[0]
        _grant(group, permission_model, role_grants(name))
