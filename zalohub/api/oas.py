"""The key's OAs (status, token expiry, health), their approved templates and quota."""

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Path, Query, Router

from zalohub.accounts.models import OfficialAccount
from zalohub.api import present
from zalohub.api import schemas as s
from zalohub.api.access import need, oa_ids, scoped_oa, the_key
from zalohub.api.models import Capability
from zalohub.api.pagination import page
from zalohub.api.partners import Paging
from zalohub.api.problems import COMMON
from zalohub.zbs.models import Template
from zalohub.zbs.services import oa_settings

router = Router(tags=["official accounts"])
OaId = Path(..., ge=1, le=s.MAX_ID)


def _oas(ids: Any) -> QuerySet[OfficialAccount]:
    return OfficialAccount.objects.filter(pk__in=ids).select_related("health")


@router.get("/oas", response={200: s.OaPage, **COMMON})
def oa_list(request: HttpRequest, paging: Query[Paging]) -> Any:
    """The key's OAs with status, token expiry and health."""
    key = the_key(request)
    return page(_oas(oa_ids(key)), cursor=paging.cursor, limit=paging.limit, item=present.oa)


@router.get("/oas/{int:oa_id}", response={200: s.OaOut, **COMMON})
def oa_detail(request: HttpRequest, oa_id: int = OaId) -> Any:
    oa = scoped_oa(the_key(request), oa_id)
    return present.oa(_oas([oa.pk]).get())


@router.get("/oas/{int:oa_id}/templates", response={200: s.TemplatePage, **COMMON})
def template_list(request: HttpRequest, paging: Query[Paging], oa_id: int = OaId) -> Any:
    """The OA's approved ZNS templates, with their parameters."""
    key = the_key(request)
    need(key, Capability.SEND_TEMPLATES)
    oa = scoped_oa(key, oa_id)
    qs = Template.objects.filter(oa=oa, status=Template.Status.APPROVED)
    return page(qs, cursor=paging.cursor, limit=paging.limit, item=present.template)


@router.get("/oas/{int:oa_id}/quota", response={200: s.QuotaOut, **COMMON})
def quota(request: HttpRequest, oa_id: int = OaId) -> Any:
    """The OA's ZNS daily quota and what remains today, as last read from Zalo."""
    key = the_key(request)
    need(key, Capability.SEND_TEMPLATES)
    settings = oa_settings(scoped_oa(key, oa_id))
    return s.QuotaOut(
        oa=oa_id,
        daily_quota=settings.daily_quota,
        remaining_quota=settings.remaining_quota,
        quota_synced_at=settings.quota_synced_at,
    )
