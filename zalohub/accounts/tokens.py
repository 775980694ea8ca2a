"""Token custody: store grants, refresh before expiry (one refresher per OA), and call
Zalo with a valid token (refreshing once and retrying once on an auth error)."""

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from zalohub.accounts.models import OfficialAccount
from zalohub.accounts.signals import announce_fix
from zalohub.core.crypto import SecretUnavailable, UnreadableSecret, reveal
from zalohub.core.stored_text import Reason, reason, reason_fields, stored_reason, text
from zalohub.zalo import ErrorKind, ZaloError, call_context, get_client
from zalohub.zalo.oauth import TokenGrant

logger = logging.getLogger(__name__)
Status = OfficialAccount.Status


class TokenUnavailable(Exception):
    """The OA has no usable access token; the message says what the admin must do.

    ``retryable``: only Zalo being unreachable stood in the way; trying later may work."""

    def __init__(self, message: str | Reason, *, retryable: bool = False) -> None:
        # ``reason`` is what a failure row stores (read in each reader's language).
        self.reason = message if isinstance(message, Reason) else text(message)
        super().__init__(str(self.reason))
        self.retryable = retryable


def store_grant(oa: OfficialAccount, grant: TokenGrant, *, connected: bool = False) -> None:
    now = timezone.now()
    was_broken = oa.status != Status.CONNECTED or bool(oa.last_refresh_error or oa.last_error)
    oa.access_token = grant.access_token
    oa.token_expires_at = now + timedelta(seconds=grant.expires_in)
    if grant.refresh_token:  # Zalo may omit it: the old one then stays valid
        oa.refresh_token = grant.refresh_token
        oa.refresh_token_expires_at = now + timedelta(
            days=settings.ZALO_REFRESH_TOKEN_LIFETIME_DAYS
        )
    oa.status = Status.CONNECTED
    oa.last_refreshed_at = now
    oa.last_refresh_error, oa.last_refresh_error_i18n = "", None
    oa.last_error, oa.last_error_i18n = "", None
    oa.last_error_at = None
    if connected:
        oa.connected_at = now
    oa.save()
    if was_broken or connected:
        announce_fix(oa_id=oa.pk, reason="authorized")


@dataclass(frozen=True)
class RefreshOutcome:
    oa: OfficialAccount
    refreshed: bool  # this call talked to Zalo and got a new token
    error: str = ""
    retryable: bool = False  # the error was Zalo being unreachable, not a refusal
    reason: Reason | None = None  # the error, to store


def _claim(pk: int) -> str | None:
    now = timezone.now()
    claim = secrets.token_hex(16)
    won = OfficialAccount.objects.filter(
        Q(refresh_claim="") | Q(refresh_claimed_until__lt=now), pk=pk
    ).update(
        refresh_claim=claim,
        refresh_claimed_until=now + timedelta(seconds=settings.ZALO_REFRESH_LEASE_SECONDS),
    )
    return claim if won else None


def _wait_for_other_refresher(pk: int) -> None:
    deadline = time.monotonic() + settings.ZALO_REFRESH_LEASE_SECONDS
    while time.monotonic() < deadline:
        if not OfficialAccount.objects.filter(pk=pk).exclude(refresh_claim="").exists():
            return
        time.sleep(0.05)


def _needs_refresh(oa: OfficialAccount, now: datetime) -> bool:
    if not oa.token_expires_at or isinstance(oa.access_token, UnreadableSecret):
        return True
    return oa.token_expires_at - now <= timedelta(seconds=settings.ZALO_REFRESH_AHEAD_SECONDS)


def oa_refresh_token(*, oa: OfficialAccount, force: bool = False) -> RefreshOutcome:
    """Refresh the OA's access token unless another worker is doing it or just did.

    Zalo's refresh tokens are single-use: two workers refreshing at once would burn the
    token and lock the OA out. The claim makes the second caller wait for the first and
    then read the token it stored.
    """
    claim = _claim(oa.pk)
    if claim is None:
        _wait_for_other_refresher(oa.pk)
        oa.refresh_from_db()
        return RefreshOutcome(oa=oa, refreshed=False)
    try:
        oa.refresh_from_db()
        return _refresh_claimed(oa, force=force, claimed_at=timezone.now())
    finally:
        OfficialAccount.objects.filter(pk=oa.pk, refresh_claim=claim).update(
            refresh_claim="", refresh_claimed_until=None
        )
        oa.refresh_claim = ""


def _refresh_claimed(oa: OfficialAccount, *, force: bool, claimed_at: datetime) -> RefreshOutcome:
    # Another worker may have refreshed between our caller's read and our claim.
    if not force and oa.status == Status.CONNECTED and not _needs_refresh(oa, claimed_at):
        return RefreshOutcome(oa=oa, refreshed=False)
    now = timezone.now()
    try:
        refresh_token = reveal(oa.refresh_token, what=_("refresh token"))
        secret_key = reveal(oa.app.secret_key, what=_("app secret key"))
    except SecretUnavailable as exc:
        # A key missing from ZALOHUB_ENCRYPTION_KEYS is the hub's configuration, not the
        # OA's grant: once the key is back the stored token works, so try again then.
        return _refresh_failed(oa, text(str(exc)), terminal=False, say_now=True)
    if not refresh_token:
        return _refresh_failed(
            oa,
            reason(gettext_noop("There is no refresh token: authorize the account.")),
            terminal=True,
        )
    if oa.refresh_token_expires_at and oa.refresh_token_expires_at <= now:
        return _refresh_failed(
            oa,
            reason(
                gettext_noop("The refresh token expired on %s: authorize the account again."),
                timezone.localtime(oa.refresh_token_expires_at).strftime("%Y-%m-%d %H:%M"),
            ),
            terminal=True,
            status=Status.EXPIRED,
        )
    try:
        with call_context(oa=oa.pk, app=oa.app_id):
            grant = get_client().oauth.refresh(
                app_id=oa.app.app_id, secret_key=secret_key, refresh_token=refresh_token
            )
    except ZaloError as exc:
        if exc.kind is ErrorKind.RETRYABLE:
            return _refresh_failed(
                oa,
                reason(gettext_noop("Zalo could not refresh the token (will retry): %s"), exc),
                terminal=False,
            )
        return _refresh_failed(
            oa,
            reason(
                gettext_noop("Zalo rejected the refresh token: %s. Authorize the account again."),
                exc,
            ),
            terminal=True,
        )
    store_grant(oa, grant)
    logger.info("Refreshed access token of OA %s", oa.pk)
    return RefreshOutcome(oa=oa, refreshed=True)


def _refresh_failed(
    oa: OfficialAccount,
    message: Reason,
    *,
    terminal: bool,
    status: str | None = None,
    say_now: bool = False,
) -> RefreshOutcome:
    """Record a failed refresh. ``terminal``: only authorizing again helps (Error or the
    given status); otherwise the refresher tries again and the OA keeps its status, or
    turns Expired once its token ran out. ``say_now``: show the reason on the OA even
    while its token is still valid (it cannot be used either)."""
    now = timezone.now()
    english, stored = message.column_text(), message.as_json()
    oa.last_refresh_error, oa.last_refresh_error_i18n = english, stored
    if terminal:
        oa.status = status or Status.ERROR
    if terminal or (oa.token_expires_at and oa.token_expires_at <= now) or say_now:
        if not terminal and oa.token_expires_at and oa.token_expires_at <= now:
            oa.status = Status.EXPIRED
        oa.last_error, oa.last_error_i18n = english, stored
        oa.last_error_at = now
    oa.save(
        update_fields=[
            "last_refresh_error",
            "last_refresh_error_i18n",
            "status",
            "last_error",
            "last_error_i18n",
            "last_error_at",
            "updated_at",
        ]
    )
    logger.warning("Refreshing OA %s failed: %s", oa.pk, english)
    return RefreshOutcome(
        oa=oa, refreshed=False, error=str(message), retryable=not terminal, reason=message
    )


def oa_access_token(*, oa: OfficialAccount) -> str:
    """A valid access token for the OA, refreshed first if it is about to expire."""
    now = timezone.now()
    retryable = False
    if oa.status in (Status.CONNECTED, Status.EXPIRED) and (
        not oa.token_expires_at or oa.token_expires_at - now < timedelta(seconds=60)
    ):
        outcome = oa_refresh_token(oa=oa)
        oa, retryable = outcome.oa, outcome.retryable
    if oa.status != Status.CONNECTED or not oa.access_token:
        why = stored_reason(oa, "last_error") or reason(
            gettext_noop("the account is not connected")
        )
        raise TokenUnavailable(
            reason(
                gettext_noop("OA “%(name)s” has no valid access token (%(reason)s)."),
                name=oa.name,
                reason=why,
            ),
            retryable=retryable,
        )
    try:
        return reveal(oa.access_token, what=_("access token"))
    except SecretUnavailable as exc:
        raise TokenUnavailable(str(exc)) from None


def call_with_token[T](oa: OfficialAccount, call: Callable[[str], T]) -> T:
    """Run a Zalo call with the OA's token; on an auth error refresh once, retry once."""
    with call_context(oa=oa.pk, app=oa.app_id):
        token = oa_access_token(oa=oa)
        try:
            return call(token)
        except ZaloError as exc:
            if exc.kind is not ErrorKind.AUTH:
                raise
            logger.info("OA %s token refused (%s); refreshing once", oa.pk, exc)
            outcome = oa_refresh_token(oa=oa, force=True)
            if outcome.error:
                raise TokenUnavailable(
                    outcome.reason or outcome.error, retryable=outcome.retryable
                ) from exc
            return call(oa_access_token(oa=outcome.oa))


def oa_sync_profile(*, oa: OfficialAccount) -> OfficialAccount:
    """Fetch the OA's name, avatar and description from Zalo."""
    profile = call_with_token(oa, lambda token: get_client().oa.get_oa_profile(access_token=token))
    oa.refresh_from_db()
    if profile.name:
        oa.name = profile.name
    oa.avatar = profile.avatar
    oa.description = profile.description
    if profile.oa_id and not oa.oa_id:
        oa.oa_id = profile.oa_id
    oa.profile_synced_at = timezone.now()
    oa.save(
        update_fields=["name", "avatar", "description", "oa_id", "profile_synced_at", "updated_at"]
    )
    return oa


def oas_due_for_refresh() -> list[OfficialAccount]:
    now = timezone.now()
    horizon = now + timedelta(seconds=settings.ZALO_REFRESH_AHEAD_SECONDS)
    return list(
        OfficialAccount.objects.select_related("app")
        .filter(status__in=[Status.CONNECTED, Status.EXPIRED], token_expires_at__lte=horizon)
        .exclude(refresh_token="")
        .filter(Q(refresh_token_expires_at__isnull=True) | Q(refresh_token_expires_at__gt=now))
    )


def mark_expired_tokens() -> int:
    """Connected OAs whose token ran out with no refresh possible show Expired."""
    now = timezone.now()
    return (
        OfficialAccount.objects.filter(status=Status.CONNECTED, token_expires_at__lte=now)
        .filter(Q(refresh_token="") | Q(refresh_token_expires_at__lte=now))
        .update(
            status=Status.EXPIRED,
            last_error_at=now,
            **reason_fields(
                "last_error",
                reason(
                    gettext_noop(
                        "The access token expired and cannot be refreshed: authorize again."
                    )
                ),
            ),
        )
    )
