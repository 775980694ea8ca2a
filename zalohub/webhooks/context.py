"""The admin banner for disabled webhook subscriptions, for those who may change them.
Lazy: nothing is queried unless a page shows the banner."""

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from zalohub.webhooks.models import Subscription


def _disabled(request: HttpRequest) -> list[Subscription]:
    user = getattr(request, "user", None)
    if (
        user is None
        or not user.is_authenticated
        or not user.has_perm("webhooks.change_subscription")
    ):
        return []
    return list(Subscription.objects.filter(active=False).exclude(disabled_at=None)[:10])


def disabled_subscriptions(request: HttpRequest) -> dict[str, Any]:
    if not request.path.startswith("/admin/"):
        return {}
    return {"webhooks_disabled": SimpleLazyObject(lambda: _disabled(request))}
