"""What other apps hear from partners (STYLE.md §3b): partners and Zalo links created (one
at a time or by a batch's identity resolution), a merge and its undoing. Subscribers
(``on_partners_created``, ``on_links_created``, ``on_merged``, ``on_unmerged``, from an
AppConfig.ready) run inside the transaction that wrote the rows; anything slow or remote
belongs in ``transaction.on_commit``."""

from collections.abc import Callable, Sequence
from typing import Any

from django.db.models.signals import post_save

from zalohub.partners.models import MergeJournal, Partner, ZaloPartnerLink

PartnersCreated = Callable[[Sequence[Partner]], None]
LinksCreated = Callable[[Sequence[ZaloPartnerLink]], None]
MergeDone = Callable[[MergeJournal], None]

PARTNER_SUBSCRIBERS: list[PartnersCreated] = []
LINK_SUBSCRIBERS: list[LinksCreated] = []
MERGE_SUBSCRIBERS: list[MergeDone] = []
UNMERGE_SUBSCRIBERS: list[MergeDone] = []


def _add(subscribers: list, subscriber: Any) -> Any:
    if subscriber not in subscribers:
        subscribers.append(subscriber)
    return subscriber


def on_partners_created(subscriber: PartnersCreated) -> PartnersCreated:
    return _add(PARTNER_SUBSCRIBERS, subscriber)


def on_links_created(subscriber: LinksCreated) -> LinksCreated:
    return _add(LINK_SUBSCRIBERS, subscriber)


def on_merged(subscriber: MergeDone) -> MergeDone:
    return _add(MERGE_SUBSCRIBERS, subscriber)


def on_unmerged(subscriber: MergeDone) -> MergeDone:
    return _add(UNMERGE_SUBSCRIBERS, subscriber)


def partners_created(partners: Sequence[Partner]) -> None:
    if partners:
        for subscriber in list(PARTNER_SUBSCRIBERS):
            subscriber(partners)


def links_created(links: Sequence[ZaloPartnerLink]) -> None:
    if links:
        for subscriber in list(LINK_SUBSCRIBERS):
            subscriber(links)


def merged(journal: MergeJournal) -> None:
    for subscriber in list(MERGE_SUBSCRIBERS):
        subscriber(journal)


def unmerged(journal: MergeJournal) -> None:
    for subscriber in list(UNMERGE_SUBSCRIBERS):
        subscriber(journal)


def _saved(sender: type, instance: Any, created: bool, **kwargs: Any) -> None:
    """One created with save() (the admin, contacts, an upsert): a batch of one. Fixture
    loading (``raw``) stores rows, not events of the hub."""
    if not created or kwargs.get("raw"):
        return
    if isinstance(instance, Partner):
        partners_created([instance])
    elif isinstance(instance, ZaloPartnerLink):
        links_created([instance])


def connect() -> None:
    post_save.connect(_saved, sender=Partner, dispatch_uid="partners.hooks.partner")
    post_save.connect(_saved, sender=ZaloPartnerLink, dispatch_uid="partners.hooks.link")
