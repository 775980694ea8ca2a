"""Role grants: each app declares what the three roles hold of its own permissions; the
roles module names no app (STYLE.md §3b)."""

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission

from zalohub.core import roles
from zalohub.core.roles import CS_AGENT, ZALO_ADMIN, ZALO_EVENTS

pytestmark = pytest.mark.django_db


def _held(role: str) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Group.objects.get(name=role).permissions.select_related("content_type")
    }


def _of(*labels: str, only: set[str] | None = None) -> set[str]:
    found = Permission.objects.filter(content_type__app_label__in=labels)
    if only is not None:
        found = found.filter(codename__in=only)
    return {
        f"{p.content_type.app_label}.{p.codename}" for p in found.select_related("content_type")
    }


def test_every_grant_is_of_an_installed_app():
    # It should grant API keys (which reach OAs and partners) to Zalo Admins only, and
    # nobody the API's bookkeeping (rate windows, kept idempotent answers).
    api_keys = {"add_apikey", "change_apikey", "delete_apikey", "view_apikey"}
    assert roles.GRANTS["api"] == {ZALO_ADMIN: api_keys}
    # It should grant nothing of an app the hub does not have.
    for label in roles.GRANTS:
        assert apps.get_app_config(label)


def test_the_roles_hold_what_they_held_when_one_module_listed_them():
    # It should give the Zalo Admin every permission of the apps they run, not the
    # events list (granted by an admin), nor Django's own (users, groups).
    admin_apps = ("accounts", "apilog", "partners", "inbox", "zbs", "diagnostics")
    admin_apps += ("webhooks", "privacy")
    api_keys = {"add_apikey", "change_apikey", "delete_apikey", "view_apikey"}
    assert _held(ZALO_ADMIN) == _of(*admin_apps) | _of("api", only=api_keys)
    # It should grant nobody the API's tables that no page shows.
    hidden = _of("api") - _of("api", only=api_keys)
    assert hidden and not any(hidden & _held(role) for role in (ZALO_ADMIN, CS_AGENT, ZALO_EVENTS))
    # It should give CS agents the inbox and contacts, and templates for a closed window.
    assert _held(CS_AGENT) == (
        _of("inbox", only={"view_conversation"})
        | _of("partners", only={"view_partner", "change_partner", "view_zalopartnerlink"})
        | _of("zbs", only={"view_template", "send_template"})
    )
    # It should give the Zalo Events auditor the events and the API logs they link to.
    assert _held(ZALO_EVENTS) == _of("events") | _of("apilog", only={"view_apilog"})


def test_it_takes_back_a_grant_no_app_makes_any_more(monkeypatch):
    monkeypatch.setattr(roles, "GRANTS", {k: dict(v) for k, v in roles.GRANTS.items()})
    roles.register_role_grants("zbs", {roles.ZALO_ADMIN: roles.ALL})
    roles.grant_role_permissions()
    # It should set the role's permissions to what the apps declare, not add to them.
    assert not {p for p in _held(CS_AGENT) if p.startswith("zbs.")}
    assert "partners.view_partner" in _held(CS_AGENT)


def test_it_refuses_a_role_that_does_not_exist():
    with pytest.raises(ValueError, match="unknown roles"):
        roles.register_role_grants("zbs", {"Zalo Superuser": roles.ALL})
