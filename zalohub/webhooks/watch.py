"""oa.status_changed and oa.health_changed: the OA's status (accounts) and health level
(diagnostics) compared with what subscribers last heard (OAWatch). Run after the commit
of any save of an OA or of its health snapshot (Django's post_save of their models), and
every few seconds by the worker for the writers that update rows without saving them
(a token found expired, say). The first look at an OA only notes it."""

import functools
import logging
from typing import Any

from django.db import transaction

from zalohub.accounts.models import OfficialAccount
from zalohub.core import periodic
from zalohub.diagnostics.models import HealthSnapshot
from zalohub.webhooks.models import OAWatch
from zalohub.webhooks.outgoing import Outgoing, active_subscriptions, emit

logger = logging.getLogger(__name__)


def watch_oas(*, oa_id: int | None = None) -> int:
    """Emit what changed since the last look; the number of events."""
    oas = OfficialAccount.objects.all()
    if oa_id is not None:
        oas = oas.filter(pk=oa_id)
    rows = list(oas.values_list("pk", "status", "name", "oa_id"))
    levels = dict(
        HealthSnapshot.objects.filter(oa_id__in=[r[0] for r in rows]).values_list("oa_id", "level")
    )
    items: list[Outgoing] = []
    first_looks: list[OAWatch] = []
    with transaction.atomic():
        seen = {w.oa_id: w for w in OAWatch.objects.filter(oa_id__in=[r[0] for r in rows])}
        for pk, status, name, zalo_oa_id in rows:
            level = levels.get(pk, "")
            watch = seen.get(pk)
            if watch is None:
                first_looks.append(OAWatch(oa_id=pk, status=status, health_level=level))
                continue
            base = {"oa_id": pk, "zalo_oa_id": zalo_oa_id, "name": name}
            if watch.status != status:
                data = {**base, "previous": watch.status, "status": status}
                items.append(Outgoing("oa.status_changed", data, oa_id=pk))
            if watch.health_level != level and level:
                data = {**base, "previous": watch.health_level, "level": level}
                items.append(Outgoing("oa.health_changed", data, oa_id=pk))
            if (watch.status, watch.health_level) != (status, level):
                OAWatch.objects.filter(pk=watch.pk).update(status=status, health_level=level)
        # Another process may look at the same moment: the first note stands.
        OAWatch.objects.bulk_create(first_looks, ignore_conflicts=True)
        emit(items)
    return len(items)


def _saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    oa_id = instance.pk if isinstance(instance, OfficialAccount) else instance.oa_id
    transaction.on_commit(functools.partial(_after_commit, oa_id))


def _after_commit(oa_id: int) -> None:
    if not active_subscriptions():
        return  # nobody listens: no write at all
    try:
        watch_oas(oa_id=oa_id)
    except Exception:  # the save that called it is committed; the periodic look retries
        logger.exception("OA watch of %s failed", oa_id)


@periodic.register("webhooks.oa_watch", every_seconds=5)
def watch_job() -> int:
    return watch_oas() if active_subscriptions() else 0


def connect() -> None:
    from django.db.models.signals import post_save

    post_save.connect(_saved, sender=OfficialAccount, dispatch_uid="webhooks.watch.oa")
    post_save.connect(_saved, sender=HealthSnapshot, dispatch_uid="webhooks.watch.health")
