"""Webhook subscriptions through the API (capability "manage webhooks"), over the
webhooks app's services. A key's subscription carries events of the key's OAs only: it
names some of them (none given: all of the key's), and a subscription that reaches any
other OA (or every OA, as an admin may make) answers 404 to the key."""

from datetime import datetime
from typing import Annotated, Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Header, Path, Query, Router, Schema, Status
from pydantic import Field

from zalohub.accounts.models import OfficialAccount
from zalohub.api import schemas as s
from zalohub.api.access import need, oa_ids, the_key
from zalohub.api.idempotency import DOC, idempotent
from zalohub.api.models import ApiKey, Capability
from zalohub.api.pagination import page
from zalohub.api.partners import Paging
from zalohub.api.problems import COMMON, POST_ERRORS, ApiProblem, not_found
from zalohub.webhooks.catalogue import EVENT_TYPES
from zalohub.webhooks.models import Subscription
from zalohub.webhooks.services import (
    subscription_create,
    subscription_delete,
    subscription_update,
)

router = Router(tags=["webhooks"])
SubscriptionId = Path(..., ge=1, le=s.MAX_ID)
Url = Annotated[str, Field(min_length=8, max_length=1000, pattern=r"^https?://[^\s\x00]+$")]
EventType = Annotated[str, Field(max_length=64, pattern=r"^[a-z_.]+$")]


class SubscriptionOut(Schema):
    id: int
    name: str
    url: str
    event_types: list[str] = Field(description="Empty: every event type.")
    oa_ids: list[int]
    active: bool
    disabled_reason: str
    rate_per_second: int
    created_at: datetime


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="Verifies the signatures (Standard Webhooks); shown once.")


class SubscriptionPage(Schema):
    items: list[SubscriptionOut]
    next_cursor: str | None


class SubscriptionIn(Schema):
    name: s.ShortText = Field(..., min_length=1)
    url: Url
    event_types: list[EventType] = Field([], max_length=len(EVENT_TYPES))
    oa_ids: list[s.Id] = Field([], max_length=100, description="Empty: every OA of the key.")
    rate_per_second: int = Field(50, ge=1, le=10_000)


class SubscriptionPatch(Schema):
    name: s.ShortText | None = Field(None, min_length=1)
    url: Url | None = None
    event_types: list[EventType] | None = Field(None, max_length=len(EVENT_TYPES))
    oa_ids: list[s.Id] | None = Field(None, max_length=100)
    rate_per_second: int | None = Field(None, ge=1, le=10_000)
    active: bool | None = None


def _out(row: Subscription, cls: type[SubscriptionOut] = SubscriptionOut, **extra: Any) -> Any:
    return cls(
        id=row.pk,
        name=row.name,
        url=row.url,
        event_types=list(row.event_types),
        oa_ids=sorted(oa.pk for oa in row.oas.all()),
        active=row.active,
        disabled_reason=row.disabled_text,
        rate_per_second=row.rate_per_second,
        created_at=row.created_at,
        **extra,
    )


def _visible(key: ApiKey) -> QuerySet[Subscription]:
    """Subscriptions to some of the key's OAs and to no other (an every-OA one, as an
    admin may make, is not the key's either)."""
    mine = oa_ids(key)
    foreign = Subscription.objects.filter(oas__in=OfficialAccount.objects.exclude(pk__in=mine))
    return Subscription.objects.filter(oas__in=mine).exclude(pk__in=foreign.values("pk")).distinct()


def _subscription(key: ApiKey, subscription_id: int) -> Subscription:
    need(key, Capability.MANAGE_WEBHOOKS)
    found = _visible(key).filter(pk=subscription_id).first()
    if found is None:
        raise not_found()
    return found


def _oas(key: ApiKey, wanted: list[int]) -> list[int]:
    mine = oa_ids(key)
    if not wanted:
        return sorted(mine)
    if not set(wanted) <= mine:
        raise not_found(_("No such OA, or not within this key."))
    return sorted(set(wanted))


def _invalid(exc: ValidationError) -> ApiProblem:
    return ApiProblem(422, "invalid_subscription", " ".join(exc.messages))


@router.get("/webhooks/subscriptions", response={200: SubscriptionPage, **COMMON})
def webhook_subscription_list(request: HttpRequest, paging: Query[Paging]) -> Any:
    key = the_key(request)
    need(key, Capability.MANAGE_WEBHOOKS)
    qs = Subscription.objects.filter(pk__in=_visible(key).values("pk")).prefetch_related("oas")
    return page(qs, cursor=paging.cursor, limit=paging.limit, item=_out)


@router.post("/webhooks/subscriptions", response={201: SubscriptionCreated, **POST_ERRORS})
def webhook_subscription_create(
    request: HttpRequest,
    body: SubscriptionIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", description=DOC),
) -> HttpResponse:
    """Subscribe a URL to events of the key's OAs. The answer holds the signing secret,
    once."""
    key = the_key(request)
    need(key, Capability.MANAGE_WEBHOOKS)
    wanted = _oas(key, body.oa_ids)

    def work() -> tuple[int, SubscriptionCreated]:
        try:
            row = subscription_create(
                name=body.name,
                url=body.url,
                event_types=body.event_types,
                oa_ids=wanted,
                rate_per_second=body.rate_per_second,
            )
        except ValidationError as exc:
            raise _invalid(exc) from None
        return 201, _out(row, SubscriptionCreated, secret=row.secret)

    return idempotent(request, key=key, idempotency_key=idempotency_key, handler=work)


@router.get(
    "/webhooks/subscriptions/{int:subscription_id}", response={200: SubscriptionOut, **COMMON}
)
def webhook_subscription_detail(request: HttpRequest, subscription_id: int = SubscriptionId) -> Any:
    return _out(_subscription(the_key(request), subscription_id))


@router.patch(
    "/webhooks/subscriptions/{int:subscription_id}", response={200: SubscriptionOut, **COMMON}
)
def webhook_subscription_update(
    request: HttpRequest, body: SubscriptionPatch, subscription_id: int = SubscriptionId
) -> Any:
    """Change what is given; ``active: true`` enables a disabled subscription again."""
    key = the_key(request)
    row = _subscription(key, subscription_id)
    try:
        row = subscription_update(
            subscription_id=row.pk,
            name=body.name,
            url=body.url,
            event_types=body.event_types,
            oa_ids=None if body.oa_ids is None else _oas(key, body.oa_ids),
            rate_per_second=body.rate_per_second,
            active=body.active,
        )
    except ValidationError as exc:
        raise _invalid(exc) from None
    return _out(row)


@router.delete("/webhooks/subscriptions/{int:subscription_id}", response={204: None, **COMMON})
def webhook_subscription_delete(request: HttpRequest, subscription_id: int = SubscriptionId) -> Any:
    row = _subscription(the_key(request), subscription_id)
    subscription_delete(subscription_id=row.pk)
    return Status(204, None)
