"""Every URL of the hub, as every persona, against the table in ``url_access_table``.

The table is the spec of who may see what: the URLconf is walked (``get_resolver``), and
a URL pattern without a row fails the test, as does a row whose pattern is gone. Each
persona gets a fresh world (tests/core/url_world.py) with rows on two OAs, so an
action that changes something (Sync, Submit, Undo) cannot change another persona's
answer. Streams are opened and closed without reading their body.

Run with ``URL_ACCESS_PRINT=1`` to print the answers seen, in the table's notation.
"""

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.signals import request_finished
from django.db import close_old_connections
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.core.url_access_table import PERSONAS, TABLE, Case
from tests.core.url_world import build_world

pytestmark = pytest.mark.django_db(transaction=False)


def url_keys() -> Iterator[str]:
    """Every pattern of the URLconf: its namespaced name, or its route when unnamed."""

    def walk(patterns: list[Any], prefix: str, namespace: str) -> Iterator[str]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), ns)
            elif isinstance(pattern, URLPattern):
                yield namespace + pattern.name if pattern.name else prefix + str(pattern.pattern)

    yield from walk(get_resolver().url_patterns, "", "")


def test_every_url_has_a_row_in_the_table() -> None:
    keys = list(url_keys())
    # It should know every URL the hub answers: a new one needs a row (who may see it).
    missing = [k for k in keys if k not in TABLE]
    assert not missing, f"URLs with no row in tests/core/url_access_table.py: {missing}"
    # It should not keep rows for URLs that are gone.
    stale = [k for k in TABLE if k not in keys]
    assert not stale, f"rows for URLs the URLconf no longer has: {stale}"
    # It should say, in each case, what every persona gets.
    for key, cases in TABLE.items():
        for case in cases:
            assert len(case.expect) == len(PERSONAS), key


def _arg(world: dict[str, Any], arg: str | int) -> str:
    if isinstance(arg, str) and arg in world:
        return str(world[arg].pk)
    return str(arg)


def path_for(key: str, case: Case, world: dict[str, Any]) -> str:
    args = [_arg(world, a) for a in case.args]
    if key and "/" not in key:  # a URL name (routes have slashes; the root is "")
        path = reverse(key, args=args)
    else:
        # An unnamed pattern: fill its converters (or the admin's catch-all) in order.
        route = key.replace("(?P<url>.*)$", "<url>")
        path = "/" + re.sub(r"<[^>]+>", lambda _m: args.pop(0), route)
    pks = {name: getattr(obj, "pk", obj) for name, obj in world.items()}
    return path + (f"?{case.query.format(**pks)}" if case.query else "")


def outcome(response: Any) -> str:
    if response.status_code in (301, 302, 303, 307, 308):
        return "L" if "/admin/login/" in response["Location"] else "R"
    return str(response.status_code)


ADMIN_CHANGE_LINK = re.compile(r'href="/admin/(\w+)/(\w+)/[^/"]+/change/')


def forbidden_links(response: Any, user: Any) -> list[str]:
    """The links to admin forms on a page that the page's reader may not open."""
    if response.streaming or response.status_code != 200:
        return []
    if "text/html" not in response.get("Content-Type", ""):
        return []
    html = response.content.decode(errors="replace")
    return sorted(
        {
            f"{app}.{model}"
            for app, model in ADMIN_CHANGE_LINK.findall(html)
            if not user.has_perm(f"{app}.view_{model}")
        }
    )


def answer(client: Client, method: str, path: str, data: dict[str, Any], dead: list[str]) -> str:
    response = client.get(path, data or None) if method == "GET" else client.post(path, data)
    got = outcome(response)
    user = getattr(getattr(response, "wsgi_request", None), "user", None)
    if user is not None and user.is_authenticated:
        dead += [f"{path} links to {target}" for target in forbidden_links(response, user)]
    if response.streaming:
        # A stream (the inbox's events) is judged by its headers: close it unread, as
        # the test client would after reading it (without closing the test's database).
        request_finished.disconnect(close_old_connections)
        try:
            response.close()
        finally:
            request_finished.connect(close_old_connections)
    return got


@pytest.fixture
def world(sandbox, admin, agent) -> dict[str, Any]:
    return build_world(admin=admin, agent=agent)


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_persona_gets_what_the_table_says(request, world, persona: str) -> None:
    user: User | None = {
        "admin": lambda: request.getfixturevalue("admin"),
        "auditor": lambda: request.getfixturevalue("auditor"),
        "agent": lambda: request.getfixturevalue("agent"),
        "agent2": lambda: world["agent2"],
        "outsider": lambda: request.getfixturevalue("outsider"),
        "anon": lambda: None,
    }[persona]()
    column = PERSONAS.index(persona)
    wrong, seen, dead = [], [], []
    for key, cases in TABLE.items():
        for case in cases:
            client = Client()
            if user is not None:
                client.force_login(user)
            path = path_for(key, case, world)
            data = {name: _arg(world, value) for name, value in case.data}
            got = answer(client, case.method, path, data, dead)
            seen.append((key, case, got))
            if got != case.expect[column]:
                expected = case.expect[column]
                wrong.append(f"{case.method} {path} ({key}): expected {expected}, got {got}")
    if os.environ.get("URL_ACCESS_PRINT"):
        for key, case, got in seen:
            print(f"SEEN {persona} {key} {case.method} {case.args} -> {got}")
    # It should answer each persona exactly as the table says, URL by URL.
    assert not wrong, "\n".join(wrong)
    # It should never show a link to an admin form its reader may not open (a 403).
    assert not dead, "\n".join(sorted(set(dead)))
