"""Buttons on the OA's change form that lead into other apps (STYLE.md §3b).

accounts sits below the apps that own those pages (API logs, partners, templates,
health), so it cannot name them: each app registers its own button in
``AppConfig.ready()`` with ``register_oa_link``, and the form shows the ones the reader
may open, in the order the apps registered them.
"""

from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils.functional import Promise


@dataclass(frozen=True)
class OALink:
    dom_id: str
    label: str | Promise
    url_name: str
    permission: str  # the reader needs it to see the button
    # The page's list filter that takes the OA's pk (?<list_filter>=<pk>); without one, the
    # pk is the URL's last argument, after ``args``.
    list_filter: str | None
    args: tuple[Any, ...]

    def href(self, oa_pk: Any) -> str:
        if self.list_filter is not None:
            return f"{reverse(self.url_name)}?{self.list_filter}={oa_pk}"
        return reverse(self.url_name, args=[*self.args, oa_pk])


@dataclass(frozen=True)
class ShownLink:
    dom_id: str
    label: str | Promise
    href: str


LINKS: dict[str, OALink] = {}


def register_oa_link(
    dom_id: str,
    label: str | Promise,
    url_name: str,
    *,
    permission: str,
    list_filter: str | None = None,
    args: tuple[Any, ...] = (),
) -> None:
    """Put a button ``label`` (HTML id ``dom_id``) on every OA's change form."""
    LINKS[dom_id] = OALink(dom_id, label, url_name, permission, list_filter, args)


def oa_links(user: Any, oa_pk: Any) -> list[ShownLink]:
    """The buttons ``user`` may follow on the form of the OA ``oa_pk``."""
    return [
        ShownLink(link.dom_id, link.label, link.href(oa_pk))
        for link in LINKS.values()
        if user.has_perm(link.permission)
    ]
