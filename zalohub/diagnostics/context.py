"""The in-app alert banner: open incidents and recent recoveries, for those who may see
the health page. Lazy: nothing is queried unless a page shows the banner."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from zalohub.diagnostics.models import Incident


def _alerts(request: HttpRequest) -> dict[str, Any] | None:
    user = getattr(request, "user", None)
    if (
        user is None
        or not user.is_authenticated
        or not user.has_perm("diagnostics.view_healthsnapshot")
    ):
        return None
    since = timezone.now() - timedelta(hours=settings.DIAGNOSTICS_RECOVERY_BANNER_HOURS)
    incidents = Incident.objects.select_related("oa")
    open_ = list(incidents.filter(resolved_at__isnull=True).order_by("opened_at")[:20])
    recovered = list(incidents.filter(resolved_at__gte=since).order_by("-resolved_at")[:5])
    if not open_ and not recovered:
        return None
    return {"open": open_, "recovered": recovered}


def alerts(request: HttpRequest) -> dict[str, Any]:
    if not request.path.startswith("/admin/"):
        return {}
    return {"diagnostics_alerts": SimpleLazyObject(lambda: _alerts(request) or {})}
