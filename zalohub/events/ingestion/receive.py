"""Webhook ingestion: verify Zalo's signature, store the event once, answer.

Nothing is processed here. The one INSERT is the durable hand-off to the workers; a
redelivery hits the unique dedupe key and is answered 200 like the first delivery. The
INSERT itself, and how concurrent requests share one (group commit), is in
``ingest_store``.
"""

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.core import requestid
from zalohub.core.crypto import SecretUnavailable, reveal
from zalohub.core.stored_text import Reason, reason
from zalohub.events.ingestion import lookups, rejected
from zalohub.events.ingestion.store import EventRow, insert_alone, store
from zalohub.zalo import webhook
from zalohub.zalo.signature import verify_webhook

logger = logging.getLogger(__name__)

# Headers worth keeping with an event (the rest is proxy noise).
KEPT_HEADERS = (
    "x-zevent-signature",
    "num_retry",
    "x-zevent-server",
    "content-type",
    "user-agent",
    "x-forwarded-for",
)


@dataclass(frozen=True)
class IngestResult:
    status: int
    reason: str = ""
    event_id: int | None = None
    duplicate: bool = False


# Zalo's payloads nest four levels deep; the worker and the admin recurse through them.
MAX_DEPTH = 64
# JSON escapes of what neither database stores (NUL) or can encode (a lone surrogate). A
# hit may be innocent (an escaped backslash before it, a surrogate pair): the parsed
# payload is then checked, as it is when the body has more brackets than MAX_DEPTH.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _unstorable(payload: Any) -> str:
    """Why the parsed payload cannot be stored and processed as it is, or "". A loop,
    not recursion: the payload may nest deeper than Python's recursion limit."""
    stack = [(payload, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return _("body is nested too deeply")
        if isinstance(node, dict):
            stack.extend((part, depth + 1) for item in node.items() for part in item)
        elif isinstance(node, list):
            stack.extend((part, depth + 1) for part in node)
        elif isinstance(node, str):
            if "\x00" in node:
                return _("body contains a NUL character")
            if not node.isascii():
                try:
                    node.encode("utf-8")
                except UnicodeEncodeError:
                    return _("body contains a lone surrogate (invalid Unicode)")
    return ""


_APP_ID_MAX = ZaloApp._meta.get_field("app_id").max_length or 64


@dataclass(frozen=True)
class _KnownApp:
    pk: int
    app_id: str
    oa_secret: str  # decrypted, kept in this process's memory only
    # Also decrypted: some sources say Zalo signs with it (zalo.signature's variants).
    app_secret: str = ""
    error: str = ""


# Webhooks arrive by the hundreds a second for a handful of apps and OAs: look each up
# once per process and TTL instead of twice per request. An admin's change reaches this
# process at once (signals below) and, through Redis, every other one (``lookups``;
# without Redis, within the TTL, or as soon as a signature fails to match the old key:
# ``_app_again``). One lookup runs at
# a time: requests that miss together (a fresh process, an expired entry) wait for it
# instead of each querying (and each taking a database connection); while an expired
# entry is being looked up again, the others keep using it.
# Each cache holds at most WEBHOOK_LOOKUP_CACHE_MAX_ENTRIES, oldest out first (with one
# TTL for all, the oldest is the first to expire anyway). App ids this hub does not know
# are remembered apart (any URL can name one), so a flood of them never pushes out a
# real app.
_apps: dict[str, tuple[float, _KnownApp]] = {}
_unknown_apps: dict[str, tuple[float, None]] = {}
_oas: dict[tuple[int, str], tuple[float, int]] = {}
_lookup = threading.Lock()
# The signature variant each app's deliveries last matched, as this process last wrote
# it on the app (with when): written again on a change, or once a minute at most.
_noted: dict[int, tuple[str, float]] = {}
NOTE_EVERY_SECONDS = 60.0


def _note_variant(app: "_KnownApp", variant: str) -> None:
    """Keep on the app which variant of the signature Zalo's deliveries match, so that an
    admin sees what Zalo really sends (API.md §3.2 lists several)."""
    noted, now = _noted.get(app.pk), time.monotonic()
    if noted and noted[0] == variant and now - noted[1] < NOTE_EVERY_SECONDS:
        return
    _noted[app.pk] = (variant, now)
    ZaloApp.objects.filter(pk=app.pk).update(
        webhook_mac_variant=variant, webhook_mac_matched_at=timezone.now()
    )


# Bumped by every forget: a lookup that was running meanwhile does not store what it read.
_generation = 0


def forget_cached_lookups(**kwargs: Any) -> None:
    """Forget every lookup (an app or OA changed here, or in another process: see
    ``lookups``)."""
    global _generation
    _generation += 1
    _apps.clear()
    _unknown_apps.clear()
    _noted.clear()
    _oas.clear()


def _cached(
    cache: dict[Any, tuple[float, Any]],
    key: Any,
    find: Callable[[], Any],
    *,
    misses: dict[Any, tuple[float, None]] | None = None,
) -> Any:
    """``find()``'s answer for ``key``, remembered for the TTL; a None answer only if
    there is a ``misses`` cache to remember it in."""
    entry = cache.get(key)
    if entry is None and misses is not None:
        entry = misses.get(key)
    if entry and entry[0] > time.monotonic():
        return entry[1]
    if not _lookup.acquire(blocking=entry is None):
        assert entry is not None  # a blocking acquire always succeeds
        return entry[1]  # expired, and being looked up again by another request
    try:
        entry = cache.get(key) or (misses.get(key) if misses is not None else None)
        now = time.monotonic()
        if entry and entry[0] > now:
            return entry[1]
        generation = _generation
        value = find()
        if generation != _generation:
            return value  # forgotten while it was read: maybe already stale
        cache.pop(key, None)
        if misses is not None:
            misses.pop(key, None)
        if value is not None:
            _remember(cache, key, (now + settings.WEBHOOK_LOOKUP_CACHE_SECONDS, value))
        elif misses is not None:
            _remember(misses, key, (now + settings.WEBHOOK_LOOKUP_CACHE_SECONDS, None))
        return value
    finally:
        _lookup.release()


def _remember(cache: dict[Any, Any], key: Any, entry: tuple[float, Any]) -> None:
    """Add an entry (under ``_lookup``), first dropping the oldest if the cache is full.
    Readers do not lock: each dict operation is atomic, and they see an entry or none."""
    while len(cache) >= settings.WEBHOOK_LOOKUP_CACHE_MAX_ENTRIES:
        del cache[next(iter(cache))]
    cache[key] = entry


def _app(app_id: str) -> _KnownApp | None:
    def find() -> _KnownApp | None:
        app = (
            ZaloApp.objects.filter(app_id=app_id)
            .only("pk", "app_id", "oa_secret_key", "secret_key")
            .first()
        )
        if app is None:
            return None
        try:
            secret, error = reveal(app.oa_secret_key, what=_("OA secret key")), ""
        except SecretUnavailable as exc:
            secret, error = "", str(exc)
        try:
            app_secret = reveal(app.secret_key, what=_("app secret key"))
        except SecretUnavailable:
            app_secret = ""  # its variants are not tried; the OA secret key's still are
        return _KnownApp(
            pk=app.pk, app_id=app.app_id, oa_secret=secret, app_secret=app_secret, error=error
        )

    return _cached(_apps, app_id, find, misses=_unknown_apps)


def _app_again(app: _KnownApp) -> _KnownApp | None:
    """The app as the database has it now, if that may differ from ``app``: a webhook's
    signature did not match ``app``'s key, and an admin may have saved a new one in
    another process (without Redis, this process learns of it when its entry expires).
    None if this process read the app less than WEBHOOK_SIGNATURE_RECHECK_SECONDS ago
    (the signature is wrong, not the cache: a flood of forged requests costs one query
    per period), or if reading it again found nothing new."""
    with _lookup:
        entry = _apps.get(app.app_id)
        if entry is not None and entry[1] is app:
            read_at = entry[0] - settings.WEBHOOK_LOOKUP_CACHE_SECONDS
            if time.monotonic() - read_at < settings.WEBHOOK_SIGNATURE_RECHECK_SECONDS:
                return None
            _apps[app.app_id] = (0.0, app)  # expired: ``_app`` reads it again
    again = _app(app.app_id)
    if again is None or again == app:
        return None
    return again


def _oa_pk(app: _KnownApp, oa_id: str) -> int | None:
    """The OA's row, if this hub knows it as an OA of ``app``: an event is attached only
    to an OA of the app whose URL and OA secret key accepted it (the key is shared by the
    app's OAs, so a payload naming another app's OA is not that OA's to claim). Unknown
    OAs are not cached: one may be authorized any moment, and its next event should find
    it."""
    if not oa_id:
        return None
    return _cached(
        _oas,
        (app.pk, oa_id),
        lambda: (
            OfficialAccount.objects.filter(app_id=app.pk, oa_id=oa_id)
            .values_list("pk", flat=True)
            .first()
        ),
    )


class _Parties:
    """Which ids of a webhook are known OAs of its app (``zalo.webhook.orient`` decides
    the OA and the user by them). Before the signature is checked only this process's
    cache is read (a forged request costs no query); once it is, the database too."""

    def __init__(self, app: _KnownApp) -> None:
        self.app = app
        self.found: dict[str, int | None] = {}

    def cached(self, oa_id: str) -> bool:
        entry = _oas.get((self.app.pk, oa_id))
        if entry is None or entry[0] <= time.monotonic():
            return False
        self.found[oa_id] = entry[1]
        return True

    def looked_up(self, oa_id: str) -> bool:
        if oa_id not in self.found:
            self.found[oa_id] = _oa_pk(self.app, oa_id)
        return self.found[oa_id] is not None

    def oa_pk(self, oa_id: str) -> int | None:
        return self.found[oa_id] if oa_id in self.found else _oa_pk(self.app, oa_id)


class _Refused(Exception):
    """A request answered 4xx and recorded as rejected (its reason stored as a msgid and
    parameters: each reader sees it in their own language)."""

    def __init__(self, status: int, why: Reason | str) -> None:
        super().__init__(str(why))
        self.status = status
        self.why = why if isinstance(why, Reason) else reason(why)


def _parsed(raw: bytes, size: int) -> tuple[str, dict[str, Any]]:
    """The body as text and as the JSON object it must be."""
    if size > settings.WEBHOOK_MAX_BODY_BYTES:
        limit = settings.WEBHOOK_MAX_BODY_BYTES
        raise _Refused(413, reason(gettext_noop("body larger than %d bytes"), limit))
    try:
        text = raw.decode("utf-8")
        payload = json.loads(text)
    except RecursionError:
        raise _Refused(400, _("body is nested too deeply")) from None
    except ValueError:  # not UTF-8, not JSON, or an integer past Python's 4,300 digits
        raise _Refused(400, _("body is not JSON")) from None
    if not isinstance(payload, dict):
        raise _Refused(400, _("body is not a JSON object"))
    # Cheap tests on the text first: nearly every body passes them without a walk.
    if (text.count("{") + text.count("[") > MAX_DEPTH or _SUSPECT_ESCAPE.search(text)) and (
        why := _unstorable(payload)
    ):
        raise _Refused(400, why)
    return text, payload


def _signed(
    app: _KnownApp, headers: Mapping[str, str], text: str, payload: dict[str, Any]
) -> tuple[str, webhook.WebhookHead, _Parties]:
    """The signature variant that matched, the webhook's head, and its known OAs."""
    signature = headers.get("x-zevent-signature", "")
    if not signature:
        raise _Refused(401, _("no X-ZEvent-Signature header"))
    if not signature.isascii():
        raise _Refused(401, _("the X-ZEvent-Signature header is not ASCII"))
    if app.error:
        raise _Refused(401, app.error)
    if not app.oa_secret:
        raise _Refused(401, _("the app has no OA secret key to check signatures with"))
    parties = _Parties(app)
    wire = webhook.head(payload, is_oa=parties.cached)
    variant = verify_webhook(
        header=signature,
        raw_body=text,
        timestamp=str(payload.get("timestamp", "")),
        secret_key=app.oa_secret,
        app_id=app.app_id,
        oa_id=wire.oa_id,
        app_secret_key=app.app_secret,
    )
    if variant is None and wire.oa_id not in parties.found and wire.user_id:
        # The cache knew neither side, so the OA was guessed: the OA-id variants are
        # tried with the other side too (a receipt may name the OA as its sender).
        variant = verify_webhook(
            header=signature,
            raw_body=text,
            timestamp=str(payload.get("timestamp", "")),
            secret_key=app.oa_secret,
            app_id="",
            oa_id=wire.user_id,
            app_secret_key=app.app_secret,
        )
    if variant is None:
        raise _Refused(401, _("signature does not match (check the app's OA secret key)"))
    if wire.app_id and wire.app_id != app.app_id:
        # Its start only: the payload's value may be any size, and it goes to the log too.
        claimed = wire.app_id[:64]
        raise _Refused(
            403, reason(gettext_noop("the payload's app_id %s is not this webhook's app"), claimed)
        )
    if wire.oa_id not in parties.found:  # no OA this process knows: ask the database
        wire = webhook.head(payload, is_oa=parties.looked_up)
    return variant, wire, parties


def _row(
    app: _KnownApp,
    wire: webhook.WebhookHead,
    parties: _Parties,
    *,
    raw: bytes,
    text: str,
    headers: Mapping[str, str],
    variant: str,
) -> EventRow:
    """The event's row, unless it is older than the freshness window allows."""
    event_time, oa_id, user_id = wire.time, wire.oa_id, wire.user_id
    max_age = settings.WEBHOOK_MAX_AGE_SECONDS
    if max_age and event_time and (timezone.now() - event_time).total_seconds() > max_age:
        raise _Refused(400, reason(gettext_noop("event older than %d seconds"), max_age))
    try:
        num_retry = int(headers.get("num_retry", 0) or 0)
    except ValueError:
        num_retry = 0
    return EventRow(
        app_id=app.pk,
        oa_id=parties.oa_pk(oa_id),
        event_name=wire.name,
        dedupe_key=wire.dedupe_key(raw),
        raw_body=text,
        headers={k: rejected.storable(v) for k, v in headers.items() if k.lower() in KEPT_HEADERS},
        signature_variant=variant,
        num_retry=max(0, min(num_retry, 1000)),
        event_time=event_time,
        zalo_user_id=user_id[:64],
        conversation_key=f"{oa_id}:{user_id}"[:100] if user_id else "",
        received_at=timezone.now(),
        request_id=requestid.current(),
    )


def ingest_webhook(
    *,
    app_id: str,
    raw: bytes,
    headers: Mapping[str, str],
    remote_addr: str = "",
    body_size: int | None = None,
) -> IngestResult:
    """Verify and store one webhook. ``body_size``: the body's full size when ``raw`` is
    only its start (a body over the limit is not read to its end)."""
    size = len(raw) if body_size is None else body_size
    lookups.ensure_listening()  # other processes' changes to apps and OAs (Redis)
    # Looked up only if it can be one: PostgreSQL refuses a NUL in a query's text, and an
    # id longer than any app's would only fill the cache of unknown ids with long keys.
    app = None if "\x00" in app_id or len(app_id) > _APP_ID_MAX else _app(app_id)
    try:
        if app is None:
            raise _Refused(404, _("unknown Zalo app id"))
        text, payload = _parsed(raw, size)
        try:
            variant, wire, parties = _signed(app, headers, text, payload)
        except _Refused as refused:
            if refused.status != 401 or (again := _app_again(app)) is None:
                raise
            app = again  # its key changed in another process: check with the new one
            variant, wire, parties = _signed(app, headers, text, payload)
        row = _row(app, wire, parties, raw=raw, text=text, headers=headers, variant=variant)
    except _Refused as refused:
        rejected.record(
            app_id=app_id,
            known=app is not None,
            status=refused.status,
            reason=refused.why,
            raw=raw,
            body_size=size,
            headers=headers,
            remote_addr=remote_addr,
        )
        logger.warning("Rejected webhook for app %r: %s", app_id[:64], refused.why)
        return IngestResult(status=refused.status, reason=str(refused.why))
    try:
        event_id = store(row)
    except IntegrityError:
        # A cached app or OA was deleted by another process: look them up afresh.
        forget_cached_lookups()
        event_id = insert_alone(row._replace(oa_id=_oa_pk(app, wire.oa_id)))
    _note_variant(app, variant)
    if event_id is None:
        return IngestResult(status=200, duplicate=True)
    return IngestResult(status=200, event_id=event_id)
