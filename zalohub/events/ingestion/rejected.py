"""Refused webhook requests: kept for diagnosis, within allowances, the rest counted.

A refused request is unauthenticated input, so what it may cost is bounded as it is
stored, not only by the hourly prune: each known app has an allowance of rows and bytes
(``WEBHOOK_REJECTED_MAX_ROWS_PER_APP`` / ``..._BYTES_PER_APP``), every app id this hub
does not know shares one more (a flood of made-up ids cannot crowd out the requests of
a real app, which say e.g. that its OA secret key is wrong), and all of them together
have ``WEBHOOK_REJECTED_MAX_ROWS`` / ``..._BYTES``. A request beyond an allowance is not
stored: its allowance's ``RejectedTally`` row counts it (requests, bytes, when last).

Each allowance is one ``RejectedTally`` row: storing a request takes its share from its
app's row and the total's with conditional UPDATEs in the transaction that inserts it,
so concurrent processes never store past a cap. The prune recounts the rows from what
is left after deleting old ones (an admin may delete rows too).
"""

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from zalohub.core.stored_text import Reason
from zalohub.events.models import RejectedRequest, RejectedTally

TOTAL = "total"
UNKNOWN = "unknown"  # every app id this hub does not know
HEADER_CHARS = 512  # of each header kept with a refused request


def app_bucket(app_id: str) -> str:
    return f"app:{app_id}"


def storable(text: str) -> str:
    """``text`` as both databases store it: PostgreSQL refuses NUL in text and jsonb,
    and neither encodes a lone surrogate. Escaped, so the record still says what came."""
    if "\x00" in text:
        text = text.replace("\x00", "\\u0000")
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def record(
    *,
    app_id: str,
    known: bool,
    status: int,
    reason: Reason,
    raw: bytes,
    body_size: int,
    headers: Mapping[str, str],
    remote_addr: str,
) -> bool:
    """Store the refused request if its allowances have room: True if stored."""
    body = storable(raw[: settings.WEBHOOK_REJECTED_BODY_BYTES].decode("utf-8", "replace"))
    kept = {storable(k)[:64]: storable(v[:HEADER_CHARS]) for k, v in headers.items()}
    text = storable(reason.column_text())[:200]
    size = len(body.encode()) + len(json.dumps(kept)) + len(text.encode())
    bucket = app_bucket(app_id) if known else UNKNOWN
    with transaction.atomic():
        if _take(
            bucket,
            settings.WEBHOOK_REJECTED_MAX_ROWS_PER_APP,
            settings.WEBHOOK_REJECTED_MAX_BYTES_PER_APP,
            size,
        ) and _take(
            TOTAL, settings.WEBHOOK_REJECTED_MAX_ROWS, settings.WEBHOOK_REJECTED_MAX_BYTES, size
        ):
            RejectedRequest.objects.create(
                app_id=storable(app_id)[:64],
                remote_addr=storable(remote_addr)[:64],
                status_code=status,
                reason=text,
                reason_i18n=reason.as_json(),
                headers=kept,
                body=body,
                body_size=min(body_size, 2**31 - 1),  # as declared, which may be anything
                stored_bytes=size,
            )
            return True
        transaction.set_rollback(True)  # the share already taken from the app's allowance
    RejectedTally.objects.filter(bucket=bucket).update(
        dropped_rows=F("dropped_rows") + 1,
        dropped_bytes=F("dropped_bytes") + size,
        last_dropped_at=timezone.now(),
    )
    return False


def _take(bucket: str, max_rows: int, max_bytes: int, size: int) -> bool:
    """Take one row of ``size`` bytes from the allowance, if it has room (its row is made
    the first time)."""
    room = RejectedTally.objects.filter(
        bucket=bucket, kept_rows__lt=max_rows, kept_bytes__lte=max_bytes - size
    )
    take = {"kept_rows": F("kept_rows") + 1, "kept_bytes": F("kept_bytes") + size}
    if room.update(**take):
        return True
    if RejectedTally.objects.filter(bucket=bucket).exists():
        return False  # full
    RejectedTally.objects.bulk_create([RejectedTally(bucket=bucket)], ignore_conflicts=True)
    return bool(room.update(**take))


def prune() -> int:
    """Delete refused requests past their retention (and the oldest beyond the total row
    cap), then recount what each allowance keeps: the number deleted."""
    from zalohub.accounts.models import ZaloApp

    cutoff = timezone.now() - timedelta(days=settings.WEBHOOK_REJECTED_RETENTION_DAYS)
    deleted = RejectedRequest.objects.filter(received_at__lt=cutoff).delete()[0]
    keep = settings.WEBHOOK_REJECTED_MAX_ROWS
    overflow = list(
        RejectedRequest.objects.order_by("-received_at", "-id").values_list(
            "received_at", flat=True
        )[keep : keep + 1]
    )
    if overflow:
        deleted += RejectedRequest.objects.filter(received_at__lte=overflow[0]).delete()[0]
    with transaction.atomic():
        # Locked first: a request stored meanwhile waits, then counts on top of the recount.
        # In the order storing takes them (its app's allowance, then the total's), so
        # the two never wait on each other in a cycle.
        locked = RejectedTally.objects.select_for_update()
        tallies = {t.bucket: t for t in locked.exclude(bucket=TOTAL).order_by("bucket")}
        tallies.update({t.bucket: t for t in locked.filter(bucket=TOTAL)})
        known = set(ZaloApp.objects.values_list("app_id", flat=True))
        counts: dict[str, list[int]] = {}
        per_app = RejectedRequest.objects.values("app_id").annotate(
            rows=Count("id"), size=Sum("stored_bytes")
        )
        for row in per_app.values_list("app_id", "rows", "size"):
            app_id, rows, size = row[0], row[1], row[2] or 0
            for bucket in (app_bucket(app_id) if app_id in known else UNKNOWN, TOTAL):
                count = counts.setdefault(bucket, [0, 0])
                count[0] += rows
                count[1] += size
        for bucket, tally in tallies.items():
            rows, size = counts.get(bucket, (0, 0))
            if (tally.kept_rows, tally.kept_bytes) != (rows, size):
                RejectedTally.objects.filter(pk=tally.pk).update(kept_rows=rows, kept_bytes=size)
    return deleted


def allowances() -> list[dict[str, Any]]:
    """Each allowance's use and caps, and what was not stored: the total first, for the
    admin's list of rejected requests."""
    rows = []
    for tally in RejectedTally.objects.all():
        if tally.bucket == TOTAL:
            label, caps = _("All apps"), ("MAX_ROWS", "MAX_BYTES")
        else:
            caps = ("MAX_ROWS_PER_APP", "MAX_BYTES_PER_APP")
            label = (
                _("App ids this hub does not know")
                if tally.bucket == UNKNOWN
                else _("App %s") % tally.bucket.removeprefix("app:")
            )
        rows.append(
            {
                "label": label,
                "total": tally.bucket == TOTAL,
                "kept_rows": tally.kept_rows,
                "kept_bytes": tally.kept_bytes,
                "dropped_rows": tally.dropped_rows,
                "dropped_bytes": tally.dropped_bytes,
                "last_dropped_at": tally.last_dropped_at,
                "max_rows": getattr(settings, f"WEBHOOK_REJECTED_{caps[0]}"),
                "max_bytes": getattr(settings, f"WEBHOOK_REJECTED_{caps[1]}"),
            }
        )
    return sorted(rows, key=lambda row: not row["total"])
