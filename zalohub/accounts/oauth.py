"""Connecting an OA: the OAuth v4 authorization with PKCE, from button to callback."""

import hashlib
import logging
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from zalohub.accounts.models import OAuthSession, OfficialAccount, ZaloApp
from zalohub.accounts.tokens import oa_sync_profile, store_grant
from zalohub.core.crypto import SecretUnavailable, reveal
from zalohub.core.stored_text import Reason, reason, reason_fields
from zalohub.zalo import ZaloError, call_context, get_client
from zalohub.zalo.oauth import TokenGrant, code_challenge, make_code_verifier

logger = logging.getLogger(__name__)


class OAuthFailure(Exception):
    """An authorization that cannot complete; the message is written for the admin."""

    def __init__(self, message: str, *, oa: OfficialAccount | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.oa = oa


# The random value an admin's browser session keeps; OAuth sessions keep its hash.
BROWSER_KEY = "zalohub_oauth_browser"


def browser_binding(session: SessionBase, *, create: bool = False) -> str:
    """What ties an authorization to the admin's browser session: the hash of a random
    value kept in that session (made with ``create``); "" when it has none."""
    value = session.get(BROWSER_KEY)
    if not value and create:
        value = session[BROWSER_KEY] = secrets.token_urlsafe(32)
    return hashlib.sha256(str(value).encode()).hexdigest() if value else ""


def oauth_start(*, oa: OfficialAccount, actor: Any = None, browser: str = "") -> str:
    """Open an OAuth session for the OA and return Zalo's consent URL to redirect to.
    ``browser``: the admin's ``browser_binding``; the callback must come back to it."""
    app = oa.app
    try:
        if app.pkce_mode == ZaloApp.PKCEMode.FIXED:
            verifier = reveal(app.fixed_code_verifier, what=_("fixed code verifier"))
            if not verifier:
                raise OAuthFailure(
                    _("The app is set to a fixed code verifier but none is configured."), oa=oa
                )
        else:
            verifier = make_code_verifier()
        reveal(app.secret_key, what=_("app secret key"))
    except SecretUnavailable as exc:
        raise OAuthFailure(str(exc), oa=oa) from None
    session = OAuthSession.objects.create(
        oa=oa,
        state=secrets.token_urlsafe(32),
        code_verifier=verifier,
        redirect_uri=app.callback_url,
        created_by=actor if getattr(actor, "pk", None) else None,
        browser=browser,
        expires_at=timezone.now() + timedelta(seconds=settings.ZALO_OAUTH_SESSION_SECONDS),
    )
    return get_client().oauth.authorization_url(
        app_id=app.app_id,
        redirect_uri=session.redirect_uri,
        code_challenge=code_challenge(verifier),
        state=session.state,
    )


def oauth_clear_sessions(*, oa: OfficialAccount) -> int:
    """Delete the OA's incomplete authorization attempts; tokens are not touched."""
    deleted, _details = OAuthSession.objects.filter(
        oa=oa, status=OAuthSession.Status.PENDING
    ).delete()
    return deleted


def _fail(session: OAuthSession, why: Reason | str) -> OAuthFailure:
    """Record a failed attempt on the session and the OA, and return the exception (its
    message in the admin's language; the OA's last error read in each reader's)."""
    now = timezone.now()
    message = str(why)
    OAuthSession.objects.filter(pk=session.pk).update(
        status=OAuthSession.Status.FAILED, error=message, finished_at=now
    )
    oa = OfficialAccount.objects.get(pk=session.oa_id)
    # A failed re-authorization must not break an OA whose token still works.
    fields: dict[str, object] = {**reason_fields("last_error", why), "last_error_at": now}
    if not oa.token_valid:
        fields["status"] = OfficialAccount.Status.ERROR
    OfficialAccount.objects.filter(pk=oa.pk).update(**fields)
    oa.refresh_from_db()
    logger.warning("OAuth for OA %s failed: %s", oa.pk, message)
    return OAuthFailure(message, oa=oa)


NO_STATE = gettext_noop(
    "The callback has no state parameter, so it cannot be matched to an "
    "authorization you started. Press Authorize Account again."
)


def _session_for(app: ZaloApp, params: Mapping[str, str], browser: str | None) -> OAuthSession:
    """The authorization the callback answers: the one its ``state`` names, started in
    this browser; without a state, the single one waiting for this app and OA that this
    browser started (Zalo's echo of ``state`` is unconfirmed, API.md §1.2)."""
    state = params.get("state", "")
    if not state:
        return _without_state(app, params, browser)
    session = OAuthSession.objects.select_related("oa__app").filter(state=state).first()
    if session is None or session.oa.app_id != app.pk:
        raise OAuthFailure(
            _(
                "The callback's state does not match any authorization in progress (it may "
                "have been cleared). Press Authorize Account again."
            )
        )
    if session.browser and session.browser != (browser or ""):
        raise OAuthFailure(
            _(
                "This authorization was started in another browser, or your session there "
                "has ended. Sign in to the hub in the browser you use and press Authorize "
                "Account again."
            )
        )
    return session


def _without_state(app: ZaloApp, params: Mapping[str, str], browser: str | None) -> OAuthSession:
    if not browser:
        raise OAuthFailure(_(NO_STATE))
    waiting = OAuthSession.objects.select_related("oa__app").filter(
        oa__app=app,
        status=OAuthSession.Status.PENDING,
        browser=browser,
        expires_at__gt=timezone.now(),
    )
    if zalo_oa_id := params.get("oa_id", ""):
        waiting = waiting.filter(Q(oa__oa_id=zalo_oa_id) | Q(oa__oa_id=""))
    found = list(waiting[:2])
    if len(found) == 1:
        return found[0]
    if not found:
        raise OAuthFailure(
            _(
                "The callback has no state parameter, and no authorization started in this "
                "browser is waiting for this OA (it may have expired). Press Authorize "
                "Account again."
            )
        )
    raise OAuthFailure(
        _(
            "The callback has no state parameter, and several authorizations started in "
            "this browser are waiting, so it cannot tell which one Zalo answers. Press "
            "Clear OAuth Session on the OA, then Authorize Account again."
        )
    )


def _claim(session: OAuthSession) -> None:
    """Only the first callback of an authorization proceeds, and only within its time."""
    claimed = OAuthSession.objects.filter(pk=session.pk, status=OAuthSession.Status.PENDING).update(
        status=OAuthSession.Status.COMPLETED, finished_at=timezone.now()
    )
    if not claimed:
        raise OAuthFailure(
            _("This authorization was already used; a replayed callback is ignored."),
            oa=session.oa,
        )
    if session.expires_at < timezone.now():
        raise _fail(
            session,
            reason(
                gettext_noop(
                    "The authorization took too long (its session expired). "
                    "Press Authorize Account again."
                )
            ),
        )


def _answer_refusal(session: OAuthSession, params: Mapping[str, str]) -> Reason | None:
    """Why Zalo's answer cannot connect this OA record, or None."""
    if params.get("error"):
        detail = params.get("error_description") or params.get("error")
        return reason(gettext_noop("Authorization was refused on Zalo's page: %s"), detail)
    if not params.get("code", ""):
        return reason(gettext_noop("Zalo's callback carries no authorization code."))
    oa, zalo_oa_id = session.oa, params.get("oa_id", "")
    if oa.oa_id and zalo_oa_id and zalo_oa_id != oa.oa_id:
        return reason(
            gettext_noop(
                "You picked Zalo OA %(picked)s on Zalo's page, but this record is OA %(ours)s."
            ),
            picked=zalo_oa_id,
            ours=oa.oa_id,
        )
    if zalo_oa_id:
        other = OfficialAccount.objects.filter(oa_id=zalo_oa_id).exclude(pk=oa.pk).first()
        if other:
            return reason(
                gettext_noop("Zalo OA %(id)s is already connected as “%(name)s”."),
                id=zalo_oa_id,
                name=other.name,
            )
    return None


def _exchange(app: ZaloApp, session: OAuthSession, code: str) -> TokenGrant:
    try:
        with call_context(oa=session.oa.pk, app=app.pk):
            return get_client().oauth.exchange_code(
                app_id=app.app_id,
                secret_key=reveal(app.secret_key, what=_("app secret key")),
                code=code,
                code_verifier=reveal(session.code_verifier, what=_("code verifier")),
            )
    except SecretUnavailable as exc:
        raise _fail(session, str(exc)) from None
    except ZaloError as exc:
        raise _fail(
            session, reason(gettext_noop("Zalo refused the authorization code: %s"), exc)
        ) from None


def oauth_complete(
    *, app_id: str, params: Mapping[str, str], browser: str | None = None
) -> OfficialAccount:
    """Handle Zalo's redirect back: find the authorization it answers (by ``state``, in
    the admin's ``browser``), exchange the code, connect the OA."""
    app = ZaloApp.objects.filter(app_id=app_id).first()
    if app is None:
        raise OAuthFailure(_("The callback names an unknown Zalo app (%s).") % app_id)
    session = _session_for(app, params, browser)
    _claim(session)
    if why := _answer_refusal(session, params):
        raise _fail(session, why)
    grant = _exchange(app, session, params["code"])
    oa, zalo_oa_id = session.oa, params.get("oa_id", "")
    try:
        with transaction.atomic():
            if zalo_oa_id:
                oa.oa_id = zalo_oa_id
            store_grant(oa, grant, connected=True)
    except IntegrityError:
        raise _fail(
            session, _("Zalo OA %s is already connected to another record.") % zalo_oa_id
        ) from None
    try:
        oa_sync_profile(oa=oa)
    except (ZaloError, SecretUnavailable) as exc:
        # Connected all the same; the profile can be synced again from the form.
        logger.warning("Profile sync after authorizing OA %s failed: %s", oa.pk, exc)
    return oa
