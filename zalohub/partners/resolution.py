"""Which partner an inbound Zalo user is: the service the event pipeline calls.

Rules, in order (DESIGN.md "Identity"):
1. a known link (OA, Zalo user id) is its partner;
2. the same ``user_id_by_app`` already linked in another OA of the same app is the same
   person (Zalo scopes that id per app), so the new link joins that partner;
3. otherwise a shadow contact and a shadow link, until evidence says who it is.
Evidence that can verify or join later: a phone shared through ``user_submit_info``
(see ``link_record_shared_phone``) and staff's confirmation. Blocked values never join
anything, and conflicting evidence becomes a suggestion, never an automatic merge.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from zalohub.accounts.models import OfficialAccount
from zalohub.partners import hooks
from zalohub.partners.models import (
    DuplicateSuggestion,
    IdentityDecision,
    LinkMethod,
    NameSource,
    Partner,
    PartnerPhone,
    ZaloPartnerLink,
    name_key,
)
from zalohub.partners.phones import (
    InvalidPhone,
    is_blocked_phone,
    is_blocked_user_id,
    normalize_phone,
)
from zalohub.partners.tasks import enqueue_profile_fetches


@dataclass(frozen=True)
class ZaloUser:
    """What an event says about its Zalo user."""

    zalo_user_id: str
    user_id_by_app: str = ""
    display_name: str = ""
    avatar: str = ""


def _decide(
    kind: str, *, partner: Partner, link: ZaloPartnerLink | None, actor: Any = None, **evidence: Any
) -> IdentityDecision:
    return IdentityDecision.objects.create(
        kind=kind,
        partner=partner,
        link=link,
        evidence=evidence,
        actor=actor if getattr(actor, "pk", None) else None,
    )


def touch_changes(link: ZaloPartnerLink, user: ZaloUser, when: datetime | None) -> dict[str, Any]:
    """What Zalo just told us about the user that the link should keep: the changed
    fields, already set on ``link`` (the caller writes them)."""
    fields: dict[str, Any] = {}
    if user.user_id_by_app and not link.user_id_by_app:
        fields["user_id_by_app"] = user.user_id_by_app
    if user.display_name and not link.display_name:
        fields["display_name"] = user.display_name
    if when and (link.last_interaction_at is None or when > link.last_interaction_at):
        fields["last_interaction_at"] = when
    for name, value in fields.items():
        setattr(link, name, value)
    return fields


def _touch(link: ZaloPartnerLink, user: ZaloUser, when: datetime | None) -> None:
    if fields := touch_changes(link, user, when):
        ZaloPartnerLink.objects.filter(pk=link.pk).update(**fields)


def resolve_link(
    *, oa: OfficialAccount, user: ZaloUser, when: datetime | None = None
) -> ZaloPartnerLink:
    """The link (and so the partner) of ``user`` on ``oa``, created if need be."""
    if link := ZaloPartnerLink.objects.filter(oa=oa, zalo_user_id=user.zalo_user_id).first():
        _touch(link, user, when)
        return link
    try:
        with transaction.atomic():
            return _create_link(oa=oa, user=user, when=when)
    except IntegrityError:
        # Another worker linked the same user a moment ago: its link stands.
        link = ZaloPartnerLink.objects.get(oa=oa, zalo_user_id=user.zalo_user_id)
        _touch(link, user, when)
        return link


def _create_link(*, oa: OfficialAccount, user: ZaloUser, when: datetime | None) -> ZaloPartnerLink:
    return _create_links([(oa, user, when)])[(oa.pk, user.zalo_user_id)]


def _siblings(
    wanted: list[tuple[OfficialAccount, ZaloUser, datetime | None]],
) -> dict[tuple[int, str], list[ZaloPartnerLink]]:
    """Existing links by (app, user_id_by_app), oldest first, for the users that carry one."""
    by_app = {
        (oa.app_id, user.user_id_by_app)
        for oa, user, _when in wanted
        if user.user_id_by_app and not is_blocked_user_id(user.user_id_by_app)
    }
    found: dict[tuple[int, str], list[ZaloPartnerLink]] = {}
    if not by_app:
        return found
    query = Q()
    for app_id in {app_id for app_id, _user in by_app}:
        query |= Q(app_id=app_id, user_id_by_app__in=[u for a, u in by_app if a == app_id])
    for link in ZaloPartnerLink.objects.filter(query).select_related("partner").order_by("id"):
        found.setdefault((link.app_id, link.user_id_by_app), []).append(link)
    return found


def _create_links(
    wanted: list[tuple[OfficialAccount, ZaloUser, datetime | None]],
) -> dict[tuple[int, str], ZaloPartnerLink]:
    """New links for users no link names yet, a handful of statements for any number.

    Each joins the partner of the same ``user_id_by_app`` in another OA of the app (an
    earlier user of the same list included), or gets a new shadow contact."""
    siblings = _siblings(wanted)
    links: dict[tuple[int, str], ZaloPartnerLink] = {}
    decisions: list[tuple[str, ZaloPartnerLink, dict[str, Any]]] = []
    shadows: list[tuple[Partner, ZaloPartnerLink]] = []
    now = timezone.now()
    for oa, user, when in wanted:
        link = ZaloPartnerLink(
            oa=oa,
            app_id=oa.app_id,
            zalo_user_id=user.zalo_user_id,
            user_id_by_app=user.user_id_by_app,
            display_name=user.display_name,
            avatar=user.avatar,
            last_interaction_at=when,
            # Webhooks carry no names: the worker fetches the profile (tasks.py).
            profile_due_at=now,
        )
        links[(oa.pk, user.zalo_user_id)] = link
        same_app = siblings.get((oa.app_id, user.user_id_by_app), [])
        sibling = next((s for s in same_app if s.oa_id != oa.pk), None)
        if user.user_id_by_app and not is_blocked_user_id(user.user_id_by_app):
            same_app.append(link)  # a later user of this list may join this one
            siblings[(oa.app_id, user.user_id_by_app)] = same_app
        if sibling is not None:
            link.partner, link.is_shadow = sibling.partner, sibling.is_shadow
            link.link_method = LinkMethod.SAME_APP_USER
            link.evidence = {
                "user_id_by_app": user.user_id_by_app,
                "app_id": oa.app.app_id,
                "other_link": sibling.pk,
                "other_oa": str(sibling.oa_id),
            }
            decisions.append((IdentityDecision.Kind.JOINED, link, link.evidence))
            continue
        name = user.display_name or _("Zalo user %(id)s") % {"id": user.zalo_user_id[-6:]}
        # bulk_create skips Partner.save(): set what it would (name_key) here.
        partner = Partner(
            name=name, name_key=name_key(name), is_shadow=True, name_source=NameSource.ZALO
        )
        link.is_shadow, link.link_method = True, LinkMethod.NEW_SHADOW
        link.evidence = {"zalo_user_id": user.zalo_user_id, "oa": oa.name}
        shadows.append((partner, link))
        decisions.append((IdentityDecision.Kind.NEW_SHADOW, link, link.evidence))
    Partner.objects.bulk_create([partner for partner, _link in shadows])
    hooks.partners_created([partner for partner, _link in shadows])
    for partner, link in shadows:
        link.partner = partner
    # Links joining a partner created above get its pk from the shared object on save.
    ZaloPartnerLink.objects.bulk_create(list(links.values()))
    hooks.links_created(list(links.values()))
    IdentityDecision.objects.bulk_create(
        [
            IdentityDecision(kind=kind, partner=link.partner, link=link, evidence=evidence)
            for kind, link, evidence in decisions
        ]
    )
    # In the caller's transaction, not on commit: the task row is written with the links
    # or not at all (django-tasks-db keeps tasks in this database).
    enqueue_profile_fetches([link.pk for link in links.values()])
    return links


def resolve_links(
    wanted: list[tuple[OfficialAccount, ZaloUser, datetime | None]],
) -> dict[tuple[int, str], ZaloPartnerLink]:
    """The links of many users at once, by (OA pk, Zalo user id): a batch of events.

    Known links come from one query and are not touched (the caller keeps what each
    event says with ``touch_changes``); unknown users are linked as ``resolve_link``
    would, together. Should another worker link one of them meanwhile, each is resolved
    on its own instead."""
    first: dict[tuple[int, str], tuple[OfficialAccount, ZaloUser, datetime | None]] = {}
    for oa, user, when in wanted:
        first.setdefault((oa.pk, user.zalo_user_id), (oa, user, when))
    if not first:
        return {}
    query = Q()
    for oa_pk in {oa_pk for oa_pk, _user in first}:
        query |= Q(oa_id=oa_pk, zalo_user_id__in=[u for o, u in first if o == oa_pk])
    links = {
        (link.oa_id, link.zalo_user_id): link for link in ZaloPartnerLink.objects.filter(query)
    }
    missing = [first[key] for key in first if key not in links]
    if not missing:
        return links
    try:
        with transaction.atomic():
            links.update(_create_links(missing))
    except IntegrityError:
        for oa, user, when in missing:
            links[(oa.pk, user.zalo_user_id)] = resolve_link(oa=oa, user=user, when=when)
    return links


def suggest_duplicate(a: Partner, b: Partner, *, score: int, reasons: list[dict]) -> None:
    """Record (or strengthen) a suggestion that a and b are one customer."""
    if a.pk == b.pk:
        return
    first, second = sorted((a, b), key=lambda p: p.pk)
    with transaction.atomic():
        suggestion, created = DuplicateSuggestion.objects.select_for_update().get_or_create(
            first=first, second=second, defaults={"score": score, "reasons": reasons}
        )
        if not created and suggestion.status == DuplicateSuggestion.Status.OPEN:
            known = {(r.get("kind"), r.get("value")) for r in suggestion.reasons}
            extra = [r for r in reasons if (r.get("kind"), r.get("value")) not in known]
            if extra or score > suggestion.score:
                suggestion.reasons = [*suggestion.reasons, *extra]
                suggestion.score = max(score, suggestion.score)
                suggestion.save(update_fields=["reasons", "score"])


def _relink_partner(shadow: Partner, into: Partner, evidence: dict[str, Any]) -> None:
    """Move a shadow contact that holds nothing but Zalo links onto a verified partner."""
    ZaloPartnerLink.objects.filter(partner=shadow).update(
        partner=into, is_shadow=False, link_method=LinkMethod.SUBMITTED_PHONE, evidence=evidence
    )
    PartnerPhone.objects.filter(partner=shadow).exclude(
        number__in=into.phones.values("number")
    ).update(partner=into)
    Partner.objects.filter(pk=shadow.pk).update(merged_into=into)


def link_record_shared_phone(
    *, link: ZaloPartnerLink, raw_phone: str, name: str = ""
) -> IdentityDecision:
    """The customer shared a phone through Zalo (``user_submit_info``): weigh it.

    A valid, unblocked phone verifies the link. If it belongs to exactly one verified
    partner and this link's contact is a shadow with nothing else on it, the link joins
    that partner; any conflict becomes a duplicate suggestion instead.
    """
    partner = link.partner
    try:
        phone = normalize_phone(raw_phone)
    except InvalidPhone as exc:
        return _decide(
            IdentityDecision.Kind.INVALID, partner=partner, link=link, phone=raw_phone, why=str(exc)
        )
    if is_blocked_phone(phone):
        return _decide(IdentityDecision.Kind.BLOCKED, partner=partner, link=link, phone=phone)
    evidence = {"phone": phone, "source": "user_submit_info", "link_id": link.pk}
    others = list(
        Partner.objects.filter(
            phones__number=phone, phones__verified=True, merged_into__isnull=True
        )
        .exclude(pk=partner.pk)
        .distinct()[:5]
    )
    holders = [p for p in others if not p.is_shadow]
    only_zalo = not partner.external_refs and not partner.email
    if partner.is_shadow and len(holders) == 1 and only_zalo and len(others) == 1:
        target = holders[0]
        _relink_partner(partner, target, evidence)
        link.refresh_from_db()
        return _decide(IdentityDecision.Kind.JOINED, partner=target, link=link, **evidence)
    PartnerPhone.objects.update_or_create(
        partner=partner,
        number=phone,
        defaults={"source": PartnerPhone.Source.ZALO_SUBMIT_INFO, "verified": True},
    )
    updates: dict[str, Any] = {"is_shadow": False}
    if partner.is_shadow and name and partner.name_source != NameSource.STAFF:
        # The name the customer gave outranks their Zalo name from now on.
        updates["name"] = name[:200]
        updates["name_key"] = name_key(name[:200])
        updates["name_source"] = NameSource.CUSTOMER
    Partner.objects.filter(pk=partner.pk).update(**updates)
    ZaloPartnerLink.objects.filter(partner=partner).update(is_shadow=False)
    for other in others:
        suggest_duplicate(
            partner,
            other,
            score=90,
            reasons=[{"kind": "same_phone", "value": phone, "source": "user_submit_info"}],
        )
    kind = IdentityDecision.Kind.SUGGESTED if others else IdentityDecision.Kind.VERIFIED
    return _decide(kind, partner=partner, link=link, others=[p.pk for p in others], **evidence)


def link_verify(
    *, link: ZaloPartnerLink, actor: Any, into: Partner | None = None
) -> ZaloPartnerLink:
    """Staff confirm who a shadow link is: attach it to ``into`` or confirm it as new."""
    with transaction.atomic():
        link = ZaloPartnerLink.objects.select_for_update().get(pk=link.pk)
        old = link.partner
        target = (into or old).resolved()
        evidence = {"confirmed_by": getattr(actor, "username", ""), "from_partner": old.pk}
        ZaloPartnerLink.objects.filter(pk=link.pk).update(
            partner=target, is_shadow=False, link_method=LinkMethod.MANUAL, evidence=evidence
        )
        Partner.objects.filter(pk=target.pk).update(is_shadow=False)
        if target.pk != old.pk and not old.zalo_links.exists():
            Partner.objects.filter(pk=old.pk).update(merged_into=target)
        _decide(IdentityDecision.Kind.VERIFIED, partner=target, link=link, actor=actor, **evidence)
    link.refresh_from_db()
    return link


def link_keep_under_review(*, link: ZaloPartnerLink, actor: Any, note: str = "") -> None:
    _decide(
        IdentityDecision.Kind.UNDER_REVIEW, partner=link.partner, link=link, actor=actor, note=note
    )


def following_changes(link: ZaloPartnerLink, *, following: bool, when: datetime) -> dict[str, Any]:
    """A follow or unfollow at ``when``: the newest event wins. The changed fields,
    already set on ``link``."""
    stamp = "followed_at" if following else "unfollowed_at"
    other = getattr(link, "unfollowed_at" if following else "followed_at")
    if other is not None and other > when:
        return {}
    fields = {"is_follower": following, stamp: when}
    for name, value in fields.items():
        setattr(link, name, value)
    return fields


def link_set_following(*, link: ZaloPartnerLink, following: bool, when: datetime) -> None:
    """follow / unfollow outside a batch of events: the same rule, on the locked row."""
    with transaction.atomic():
        current = ZaloPartnerLink.objects.select_for_update().get(pk=link.pk)
        if fields := following_changes(current, following=following, when=when):
            ZaloPartnerLink.objects.filter(pk=link.pk).update(**fields)
    link.refresh_from_db()
