"""API keys: made (shown once), found by their hash, touched on use, revoked.

``key_find_cached`` answers from this process's memory once a key was found: for sends
(``zalohub.api.accept``), which check the key again in the transaction that stores the
send (active, this OA in its scope, the capability), so a revoked key or a narrowed
scope is refused there, in every process, without telling the others. What the memory
says is only ever a first "yes": a "no" (an OA outside the scope, a capability missing)
is asked of the database again before it is answered.
"""

import hashlib
import secrets
import threading
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from zalohub.accounts.models import OfficialAccount
from zalohub.api.models import ApiKey, Capability

KEY_PREFIX = "zh_"
# last_used_at is written at most this often per key (and when the address changes):
# a busy key would otherwise rewrite its row on every request.
TOUCH_EVERY = timedelta(seconds=30)
# Keys kept in a process's memory (by hash); past it the memory starts again.
CACHED_KEYS = 1000

_cached: dict[str, ApiKey] = {}
_cached_lock = threading.Lock()


def key_hash(raw: str) -> str:
    # A key is 32 random bytes: a fast hash is enough (nothing to brute-force).
    return hashlib.sha256(raw.encode()).hexdigest()


def key_create(
    *,
    name: str,
    oas: Iterable[OfficialAccount],
    capabilities: Iterable[str],
    rate_limit_per_minute: int = 1200,
    created_by: Any = None,
) -> tuple[ApiKey, str]:
    """A new key and its text, which is not kept: the caller shows it once."""
    wanted = list(dict.fromkeys(capabilities))
    unknown = set(wanted) - set(Capability.values)
    if unknown:
        raise ValueError(f"unknown capabilities: {sorted(unknown)}")
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        key = ApiKey.objects.create(
            name=name,
            prefix=raw[: len(KEY_PREFIX) + 8],
            key_hash=key_hash(raw),
            capabilities=wanted,
            rate_limit_per_minute=rate_limit_per_minute,
            created_by=created_by if getattr(created_by, "pk", None) else None,
        )
        key.oas.set(list(oas))
    return key, raw


def key_new_secret(key: ApiKey) -> str:
    """Give a key being saved for the first time its text and hash; the text is returned
    to be shown once (the admin's add form)."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key.prefix = raw[: len(KEY_PREFIX) + 8]
    key.key_hash = key_hash(raw)
    return raw


def key_find(raw: str) -> ApiKey | None:
    """The active key with this text, or None."""
    if not raw.startswith(KEY_PREFIX) or len(raw) > 100:
        return None
    return ApiKey.objects.filter(key_hash=key_hash(raw), revoked_at__isnull=True).first()


def key_find_cached(raw: str) -> ApiKey | None:
    """The key with this text as this process last found it active (or as the database
    has it now, read once): for callers that check it again where they write."""
    if not raw.startswith(KEY_PREFIX) or len(raw) > 100:
        return None
    digest = key_hash(raw)
    key = _cached.get(digest)
    if key is None:
        key = ApiKey.objects.filter(key_hash=digest, revoked_at__isnull=True).first()
        if key is None:
            return None
        key_oa_ids(key)
        with _cached_lock:
            if len(_cached) >= CACHED_KEYS:
                _cached.clear()
            _cached[digest] = key
    return key


def key_fresh(key: ApiKey) -> ApiKey | None:
    """The key as the database has it now (None once revoked); this process's memory of
    it is replaced (or dropped)."""
    fresh = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).first()
    with _cached_lock:
        if fresh is None:
            _cached.pop(key.key_hash, None)
        elif key.key_hash in _cached:
            key_oa_ids(fresh)
            _cached[key.key_hash] = fresh
    return fresh


def key_forget(key_hash: str) -> None:
    with _cached_lock:
        _cached.pop(key_hash, None)


def key_touch(key: ApiKey, ip: str | None) -> None:
    """Note when and from where the key was last used (at most every TOUCH_EVERY)."""
    now = timezone.now()
    if (
        key.last_used_at is not None
        and now - key.last_used_at < TOUCH_EVERY
        and key.last_used_ip == ip
    ):
        return
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=now, last_used_ip=ip)
    key.last_used_at, key.last_used_ip = now, ip


def key_revoke(*, key: ApiKey) -> bool:
    done = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    key.refresh_from_db(fields=["revoked_at"])
    key_forget(key.key_hash)  # this process at once; the others when they write (module doc)
    return bool(done)


def key_oa_ids(key: ApiKey) -> set[int]:
    """The OAs the key reaches (read once per request)."""
    cached: set[int] | None = getattr(key, "_oa_ids", None)
    if cached is None:
        cached = set(key.oas.values_list("pk", flat=True))
        key._oa_ids = cached  # type: ignore[attr-defined]  # a per-request cache
    return cached
