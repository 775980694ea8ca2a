"""The in-app alert banner: open incidents, and recovery notices, for those who may see
the health page. Lazy: nothing is queried unless a page shows the banner.

A recovery notice is shown once to each user and then goes (NoticeSeen remembers up to
when they saw them); of several recoveries of one check only the latest is shown, and
none while that check is broken again, so notices never pile up."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from zalohub.diagnostics.models import Incident, NoticeSeen

MAX_RECOVERED_LOOKED_AT = 50


def _recovered(user: Any, open_: list[Incident]) -> list[Incident]:
    since = timezone.now() - timedelta(hours=settings.DIAGNOSTICS_RECOVERY_BANNER_HOURS)
    seen = NoticeSeen.objects.filter(user=user).values_list("recoveries_until", flat=True).first()
    if seen is not None and seen > since:
        since = seen
    rows = list(
        Incident.objects.select_related("oa")
        .filter(resolved_at__gt=since)
        .order_by("-resolved_at", "-id")[:MAX_RECOVERED_LOOKED_AT]
    )
    if not rows:
        return []
    # Seen now: the next page shows none of these again.
    latest = rows[0].resolved_at
    assert latest is not None  # filtered on it
    NoticeSeen.objects.update_or_create(user=user, defaults={"recoveries_until": latest})
    broken = {(i.oa_id, i.check_key) for i in open_}
    shown: list[Incident] = []
    for incident in rows:
        key = (incident.oa_id, incident.check_key)
        if key in broken:
            continue
        broken.add(key)  # only the latest recovery of a check
        shown.append(incident)
    return shown


def _alerts(request: HttpRequest) -> dict[str, Any] | None:
    user = getattr(request, "user", None)
    if (
        user is None
        or not user.is_authenticated
        or not user.has_perm("diagnostics.view_healthsnapshot")
    ):
        return None
    incidents = Incident.objects.select_related("oa")
    open_ = list(incidents.filter(resolved_at__isnull=True).order_by("opened_at")[:20])
    recovered = _recovered(user, open_)
    if not open_ and not recovered:
        return None
    return {"open": open_, "recovered": recovered[:5]}


def alerts(request: HttpRequest) -> dict[str, Any]:
    if not request.path.startswith("/admin/"):
        return {}
    return {"diagnostics_alerts": SimpleLazyObject(lambda: _alerts(request) or {})}
