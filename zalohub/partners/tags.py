"""An OA's Zalo tags on its partner links: read from Zalo, set through Zalo, and kept in
step with the tag webhooks and the user detail.

The tables (``ZaloTag``, ``ZaloTagging``) are what the Zalo Partners list filters on;
each link's ``tag_names`` lists the same names, for display. Every change made here to
a link's tags rewrites both. Tagging and untagging go to Zalo first: the hub keeps only
what Zalo accepted (a refusal raises, and nothing is kept).
"""

from collections.abc import Iterable, Iterator
from typing import Any

from django.db import transaction

from zalohub.accounts.models import OfficialAccount
from zalohub.accounts.tokens import call_with_token
from zalohub.partners.models import ZaloPartnerLink, ZaloTag, ZaloTagging
from zalohub.zalo import call_context, get_client

TAG_MAX = 100


def clean_tag(name: str) -> str:
    """A tag name as kept: trimmed, inner spaces single. Empty or too long: ValueError."""
    name = " ".join(str(name).split())
    if not name or len(name) > TAG_MAX:
        raise ValueError(name)
    return name


def _usable(names: Iterable[str]) -> Iterator[str]:
    """The names that make tags (an empty or overlong one from Zalo is skipped)."""
    for name in names:
        try:
            yield clean_tag(name)
        except ValueError:
            continue


def _tags(oa_id: int, names: Iterable[str]) -> dict[str, ZaloTag]:
    """The OA's tags of these names, created when new."""
    wanted = sorted({n for n in names if n})
    found = {t.name: t for t in ZaloTag.objects.filter(oa_id=oa_id, name__in=wanted)}
    missing = [ZaloTag(oa_id=oa_id, name=n) for n in wanted if n not in found]
    if missing:
        ZaloTag.objects.bulk_create(missing, ignore_conflicts=True)
        found = {t.name: t for t in ZaloTag.objects.filter(oa_id=oa_id, name__in=wanted)}
    return found


def _refresh_names(link_ids: Iterable[int]) -> None:
    """Rewrite ``tag_names`` of these links from their taggings (display follows truth)."""
    ids = sorted(set(link_ids))
    names: dict[int, list[str]] = {pk: [] for pk in ids}
    rows = ZaloTagging.objects.filter(link_id__in=ids).order_by("tag__name")
    for link_id, name in rows.values_list("link_id", "tag__name"):
        names[link_id].append(name)
    for link_id, tag_names in names.items():
        ZaloPartnerLink.objects.filter(pk=link_id).update(tag_names=tag_names)


def links_add_tag(*, oa_id: int, user_ids: Iterable[str], tag: str) -> int:
    """Tag the OA's links of these Zalo users (a webhook said so); how many links."""
    name = clean_tag(tag)
    links = list(
        ZaloPartnerLink.objects.filter(oa_id=oa_id, zalo_user_id__in=list(user_ids)).values_list(
            "pk", flat=True
        )
    )
    if not links:
        _tags(oa_id, [name])  # the OA has the tag even if no known link carries it
        return 0
    found = _tags(oa_id, [name])[name]
    ZaloTagging.objects.bulk_create(
        [ZaloTagging(link_id=pk, tag=found) for pk in links], ignore_conflicts=True
    )
    _refresh_names(links)
    return len(links)


def links_remove_tag(*, oa_id: int, user_ids: Iterable[str], tag: str) -> int:
    name = clean_tag(tag)
    rows = ZaloTagging.objects.filter(
        tag__oa_id=oa_id, tag__name=name, link__zalo_user_id__in=list(user_ids)
    )
    links = list(rows.values_list("link_id", flat=True))
    rows.delete()
    _refresh_names(links)
    return len(links)


def oa_forget_tag(*, oa_id: int, tag: str) -> int:
    """The tag is gone from the OA (``remove_tag``): every link loses it."""
    name = clean_tag(tag)
    links = list(
        ZaloTagging.objects.filter(tag__oa_id=oa_id, tag__name=name).values_list(
            "link_id", flat=True
        )
    )
    ZaloTag.objects.filter(oa_id=oa_id, name=name).delete()
    _refresh_names(links)
    return len(links)


def link_set_tags(*, link: ZaloPartnerLink, names: Iterable[str]) -> None:
    """The link carries exactly these tags (the user detail's ``tag_names``)."""
    clean = set(_usable(names))
    with transaction.atomic():
        found = _tags(link.oa_id, clean)
        ZaloTagging.objects.filter(link=link).exclude(tag__name__in=clean).delete()
        ZaloTagging.objects.bulk_create(
            [ZaloTagging(link=link, tag=t) for t in found.values()], ignore_conflicts=True
        )
        _refresh_names([link.pk])
    link.tag_names = sorted(clean)


def oa_sync_tags(*, oa: OfficialAccount) -> list[str]:
    """Read the OA's tags from Zalo and keep exactly those (a tag Zalo no longer lists
    leaves every link); the names, in Zalo's order."""
    with call_context(oa=oa.pk, app=oa.app_id, ref_type="oa", ref_id=oa.pk):
        names = call_with_token(oa, lambda t: get_client().tags.list_tags(access_token=t))
    kept = list(dict.fromkeys(_usable(names)))
    with transaction.atomic():
        _tags(oa.pk, kept)
        gone = ZaloTag.objects.filter(oa=oa).exclude(name__in=kept)
        links = list(ZaloTagging.objects.filter(tag__in=gone).values_list("link_id", flat=True))
        gone.delete()
        _refresh_names(links)
    return kept


def _call(link: ZaloPartnerLink, action: str, name: str) -> None:
    def call(token: str) -> Any:
        tags = get_client().tags
        if action == "add":
            return tags.tag_user(access_token=token, user_id=link.zalo_user_id, tag_name=name)
        return tags.untag_user(access_token=token, user_id=link.zalo_user_id, tag_name=name)

    with call_context(oa=link.oa_id, app=link.app_id, ref_type="partner_link", ref_id=link.pk):
        call_with_token(link.oa, call)


def link_tag(*, link: ZaloPartnerLink, tag: str) -> str:
    """Tag the user on Zalo, then here. Raises ZaloError or TokenUnavailable (nothing
    kept) when Zalo refuses or cannot be reached; ValueError for an unusable name."""
    name = clean_tag(tag)
    _call(link, "add", name)
    links_add_tag(oa_id=link.oa_id, user_ids=[link.zalo_user_id], tag=name)
    link.refresh_from_db(fields=["tag_names"])
    return name


def link_untag(*, link: ZaloPartnerLink, tag: str) -> str:
    name = clean_tag(tag)
    _call(link, "remove", name)
    links_remove_tag(oa_id=link.oa_id, user_ids=[link.zalo_user_id], tag=name)
    link.refresh_from_db(fields=["tag_names"])
    return name


def tag_names_visible(*, oa_ids: Iterable[int] | None) -> list[str]:
    """The distinct tag names of these OAs (every OA: None), for a filter."""
    qs = ZaloTag.objects.all()
    if oa_ids is not None:
        qs = qs.filter(oa_id__in=list(oa_ids))
    return sorted(set(qs.values_list("name", flat=True)))
