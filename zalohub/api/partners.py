"""Partners: find (phone in any form, external reference, Zalo link), upsert by external
reference, their Zalo links and identity decisions (only those of the key's OAs)."""

from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Header, Path, Query, Router, Schema
from pydantic import Field

from zalohub.api import present
from zalohub.api import schemas as s
from zalohub.api.access import in_scope, need, oa_ids, the_key
from zalohub.api.idempotency import DOC, idempotent
from zalohub.api.models import ApiKey, Capability
from zalohub.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, page
from zalohub.api.problems import COMMON, POST_ERRORS, ApiProblem, not_found
from zalohub.partners.external import partner_upsert_by_ref, partners_by_phone, partners_by_ref
from zalohub.partners.models import IdentityDecision, Partner, ZaloPartnerLink
from zalohub.partners.phones import InvalidPhone

router = Router(tags=["partners"])


class Paging(Schema):
    cursor: s.Reference | None = None
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


class PartnerFilters(Paging):
    phone: s.Phone | None = None
    system: s.System | None = None
    reference: s.Reference | None = None
    oa: s.Id | None = None
    user_id: s.ZaloUserId | None = None


def partner_by_ref(system: str, reference: str) -> Partner | None:
    return partners_by_ref(system=system, reference=reference).order_by("id").first()


def _found(key: ApiKey, f: PartnerFilters) -> QuerySet[Partner]:
    qs = Partner.objects.filter(merged_into__isnull=True)
    if f.phone is not None:
        try:
            qs = qs.filter(pk__in=partners_by_phone(phone=f.phone).values("pk"))
        except InvalidPhone as exc:
            raise ApiProblem(422, "invalid_phone", str(exc)) from None
    if (f.system is None) != (f.reference is None):
        raise ApiProblem(400, "bad_request", _("Give system and reference together."))
    if f.system is not None and f.reference is not None:
        qs = qs.filter(pk__in=partners_by_ref(system=f.system, reference=f.reference).values("pk"))
    if f.user_id is not None and f.oa is None:
        raise ApiProblem(400, "bad_request", _("A Zalo user id needs its OA (oa)."))
    if f.oa is not None:
        in_scope(key, f.oa)
        links = ZaloPartnerLink.objects.filter(oa_id=f.oa)
        if f.user_id is not None:
            links = links.filter(zalo_user_id=f.user_id)
        qs = qs.filter(pk__in=links.values("partner_id"))
    return qs


@router.get("/partners", response={200: s.PartnerPage, **COMMON})
def partner_list(request: HttpRequest, filters: Query[PartnerFilters]) -> Any:
    """Partners, newest first; narrowed by phone (any form people type: 0912 345 678,
    +84 912-345-678), by external reference (system and reference), by Zalo link (oa
    and user_id) or by OA."""
    key = the_key(request)
    need(key, Capability.MANAGE_PARTNERS)
    qs = _found(key, filters).prefetch_related("phones")
    return page(qs, cursor=filters.cursor, limit=filters.limit, item=present.partner)


def _partner(partner_id: int) -> Partner:
    partner = Partner.objects.filter(pk=partner_id).select_related("merged_into").first()
    if partner is None:
        raise not_found()
    return partner.resolved()


@router.get("/partners/{int:partner_id}", response={200: s.PartnerOut, **COMMON})
def partner_detail(request: HttpRequest, partner_id: int = Path(..., ge=1, le=s.MAX_ID)) -> Any:
    """A partner; a merged one answers as the partner it was merged into."""
    need(the_key(request), Capability.MANAGE_PARTNERS)
    return present.partner(_partner(partner_id))


@router.get("/partners/{int:partner_id}/links", response={200: s.LinkPage, **COMMON})
def partner_links(
    request: HttpRequest,
    paging: Query[Paging],
    partner_id: int = Path(..., ge=1, le=s.MAX_ID),
) -> Any:
    """The partner's Zalo links on the key's OAs."""
    key = the_key(request)
    need(key, Capability.MANAGE_PARTNERS)
    partner = _partner(partner_id)
    qs = ZaloPartnerLink.objects.filter(partner=partner, oa_id__in=oa_ids(key))
    return page(qs, cursor=paging.cursor, limit=paging.limit, item=present.link)


@router.get(
    "/partners/{int:partner_id}/identity-decisions", response={200: s.DecisionPage, **COMMON}
)
def partner_decisions(
    request: HttpRequest,
    paging: Query[Paging],
    partner_id: int = Path(..., ge=1, le=s.MAX_ID),
) -> Any:
    """Why the partner's links point where they do (decisions on other OAs' links are left
    out)."""
    key = the_key(request)
    need(key, Capability.MANAGE_PARTNERS)
    partner = _partner(partner_id)
    qs = IdentityDecision.objects.filter(partner=partner).filter(
        Q(link__isnull=True) | Q(link__oa_id__in=oa_ids(key))
    )
    return page(qs, cursor=paging.cursor, limit=paging.limit, item=present.decision)


@router.post("/partners/upsert", response={200: s.PartnerOut, 201: s.PartnerOut, **POST_ERRORS})
def partner_upsert(
    request: HttpRequest,
    body: s.PartnerUpsertIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", description=DOC),
) -> HttpResponse:
    """Create or update the partner your system knows as (system, reference): 201 when
    created, 200 when updated. Phones are added (normalized to 84xxxxxxxxx), never
    removed."""
    key = the_key(request)
    need(key, Capability.MANAGE_PARTNERS)

    def work() -> tuple[int, s.PartnerOut]:
        try:
            partner, created = partner_upsert_by_ref(
                system=body.system,
                reference=body.reference,
                name=body.name or None,
                email=body.email,
                phones=body.phones,
            )
        except InvalidPhone as exc:
            raise ApiProblem(422, "invalid_phone", str(exc)) from None
        partner = Partner.objects.prefetch_related("phones").get(pk=partner.pk)
        return (201 if created else 200), present.partner(partner)

    return idempotent(request, key=key, idempotency_key=idempotency_key, handler=work)
