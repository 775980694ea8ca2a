"""Subscriptions and what is owed to them: keyword-only services that the admin, the
REST API and the CLI all call."""

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from zalohub.accounts.models import OfficialAccount
from zalohub.events.outbound import lanes
from zalohub.webhooks import conf, outgoing
from zalohub.webhooks.catalogue import EVENT_TYPES, TEST_EVENT
from zalohub.webhooks.lane import DELIVERIES
from zalohub.webhooks.models import Delivery, Subscription
from zalohub.webhooks.signing import new_secret
from zalohub.webhooks.urlcheck import check_url


def _event_types(event_types: Iterable[str]) -> list[str]:
    wanted = sorted(set(event_types))
    unknown = [name for name in wanted if name not in EVENT_TYPES]
    if unknown:
        raise ValidationError(
            _("Unknown event types: %(names)s."), params={"names": ", ".join(unknown)}
        )
    return wanted


def _set_oas(subscription: Subscription, oa_ids: Iterable[int]) -> None:
    ids = sorted(set(oa_ids))
    found = list(OfficialAccount.objects.filter(pk__in=ids).values_list("pk", flat=True))
    missing = sorted(set(ids) - set(found))
    if missing:
        raise ValidationError(
            _("No Official Account with id %(ids)s."),
            params={"ids": ", ".join(map(str, missing))},
        )
    subscription.oas.set(found)


def subscription_create(
    *,
    name: str,
    url: str,
    event_types: Sequence[str] = (),
    oa_ids: Sequence[int] = (),
    allow_private_network: bool = False,
    rate_per_second: int = 50,
) -> Subscription:
    """A new active subscription with a fresh secret (read it from ``.secret``). Empty
    ``event_types`` or ``oa_ids``: every event type, every OA."""
    check_url(url, allow_private=allow_private_network)
    with transaction.atomic():
        subscription = Subscription.objects.create(
            name=name,
            url=url,
            event_types=_event_types(event_types),
            allow_private_network=allow_private_network,
            rate_per_second=max(1, rate_per_second),
            secret=new_secret(),
        )
        _set_oas(subscription, oa_ids)
    return subscription


def subscription_update(
    *,
    subscription_id: int,
    name: str | None = None,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    oa_ids: Sequence[int] | None = None,
    allow_private_network: bool | None = None,
    rate_per_second: int | None = None,
    active: bool | None = None,
) -> Subscription:
    """Change what is given; ``active=True`` enables a disabled subscription again (its
    failure count starts over, and deliveries it still owes go out)."""
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(pk=subscription_id)
        if name is not None:
            subscription.name = name
        if allow_private_network is not None:
            subscription.allow_private_network = allow_private_network
        if url is not None:
            subscription.url = url
        if url is not None or allow_private_network is not None:
            check_url(subscription.url, allow_private=subscription.allow_private_network)
        if event_types is not None:
            subscription.event_types = _event_types(event_types)
        if rate_per_second is not None:
            subscription.rate_per_second = max(1, rate_per_second)
        if active is True and not subscription.active:
            subscription.active = True
            subscription.disabled_reason, subscription.disabled_at = "", None
            subscription.failure_streak, subscription.failing_since = 0, None
        elif active is False:
            subscription.active = False
        subscription.save()
        if oa_ids is not None:
            _set_oas(subscription, oa_ids)
    return subscription


def subscription_delete(*, subscription_id: int) -> None:
    """Delete the subscription and its deliveries (and their log)."""
    Subscription.objects.filter(pk=subscription_id).delete()


def subscription_list(*, oa_ids: Iterable[int] | None = None) -> QuerySet[Subscription]:
    """Every subscription, or those that may carry events of ``oa_ids`` (a subscription
    to every OA included)."""
    subscriptions = Subscription.objects.prefetch_related("oas").order_by("id")
    if oa_ids is not None:
        ids = list(oa_ids)
        every = Subscription.objects.filter(oas__isnull=True).values("pk")
        subscriptions = subscriptions.filter(pk__in=every) | subscriptions.filter(oas__in=ids)
        subscriptions = subscriptions.distinct()
    return subscriptions


def subscription_rotate_secret(
    *, subscription_id: int, overlap_seconds: int | None = None
) -> Subscription:
    """A new secret signs from now on; the old one signs alongside it for
    ``overlap_seconds`` (WEBHOOKS_ROTATION_OVERLAP_SECONDS), so receivers can switch."""
    overlap = (
        conf.get("WEBHOOKS_ROTATION_OVERLAP_SECONDS")
        if overlap_seconds is None
        else overlap_seconds
    )
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(pk=subscription_id)
        subscription.previous_secret = subscription.secret
        subscription.previous_secret_until = timezone.now() + timedelta(seconds=max(0, overlap))
        subscription.secret = new_secret()
        subscription.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
    return subscription


def subscription_send_test(*, subscription_id: int) -> Delivery:
    """Queue a ``webhook.test`` event to the subscription (whatever events it wants)."""
    subscription = Subscription.objects.get(pk=subscription_id)
    data: dict[str, Any] = {
        "subscription_id": subscription.pk,
        "message": "A test event from zalohub: your endpoint receives and verifies it.",
    }
    return outgoing.queue_one(subscription, TEST_EVENT, data=data, is_test=True)


def delivery_replay(*, delivery_id: int) -> Delivery:
    """Send the delivery's event again, the same body and webhook-id (a receiver that
    deduplicates by webhook-id applies it once), as a new delivery row queued through
    the pipeline's way in (``lanes.replay``)."""
    original = Delivery.objects.get(pk=delivery_id)
    (copy,) = lanes.replay(DELIVERIES, [original])
    return copy


def deliveries_replay(
    *, subscription_id: int, since: datetime, until: datetime, failed_only: bool = False
) -> int:
    """Replay every delivery of the subscription created in [since, until) (only the
    failed ones with ``failed_only``); the number queued."""
    originals = Delivery.objects.filter(
        subscription_id=subscription_id,
        created_at__gte=since,
        created_at__lt=until,
        replay_of__isnull=True,
    ).order_by("created_at", "id")
    if failed_only:
        originals = originals.filter(state=Delivery.State.FAILED)
    return len(lanes.replay(DELIVERIES, originals.iterator(chunk_size=1000)))
