"""Authorization codes, access tokens and refresh tokens, with Zalo's lifetimes and rules.

Written from API.md §1.3-§1.5, independently of the hub's client (``zalohub.zalo``), so a
mistake there is caught here instead of mirrored. Callers hold the state's lock.
"""

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

CODE_TTL = 10 * 60  # "Authorization Code ... có hiệu lực trong vòng 10 phút"
ACCESS_TTL = 25 * 3600  # 25 hours; Zalo reports it as the string "90000"
REFRESH_TTL = 90 * 24 * 3600  # "3 months"
# Superseded or expired access tokens are remembered this long, so that using one answers
# -220 (expired or removed) rather than -216 (never heard of it).
ACCESS_MEMORY = 7 * 24 * 3600


class GrantRefused(Exception):
    """The token endpoint refuses: ``code`` is Zalo's -14xxx error."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class TokenRejected(Exception):
    """An OA call's access token is refused: -216 (unknown) or -220 (expired/removed)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class AccessGrant:
    token: str
    app_id: str
    oa_id: str
    expires_at: float


def s256(verifier: str) -> str:
    """RFC 7636 S256, the only method Zalo uses: base64url-no-pad(sha256(ascii))."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _verifier_matches(verifier: str, challenge: str) -> bool:
    try:
        computed = s256(verifier)
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(computed, challenge)


def _pair_key(app_id: str, oa_id: str) -> str:
    return f"{app_id}:{oa_id}"


class TokenBook:
    def __init__(self) -> None:
        self.codes: dict[str, dict[str, Any]] = {}
        self.access: dict[str, dict[str, Any]] = {}
        self.refresh: dict[str, dict[str, Any]] = {}
        # The one live access token per (app, OA): minting a new one kills the old.
        self.current: dict[str, str] = {}

    # --- authorization codes -------------------------------------------------------------
    def issue_code(
        self, *, app_id: str, oa_id: str, redirect_uri: str, code_challenge: str, now: float
    ) -> str:
        self._prune(now)
        code = secrets.token_urlsafe(48)
        self.codes[code] = {
            "app_id": app_id,
            "oa_id": oa_id,
            "redirect_uri": redirect_uri,
            "code_challenge": code_challenge,
            "expires_at": now + CODE_TTL,
        }
        return code

    def redeem_code(self, *, app_id: str, code: str, code_verifier: str, now: float) -> TokenPair:
        record = self.codes.get(code)
        if record is None or record["app_id"] != app_id or record["expires_at"] <= now:
            raise GrantRefused(-14005)
        challenge = record["code_challenge"]
        # A verifier is required only when the consent link carried a challenge (API.md
        # §1.3). A wrong verifier leaves the code usable: whether Zalo burns it is unknown.
        if challenge and not _verifier_matches(code_verifier, challenge):
            raise GrantRefused(-14005)
        del self.codes[code]  # single use
        return self.mint(app_id=app_id, oa_id=record["oa_id"], now=now)

    # --- tokens --------------------------------------------------------------------------
    def mint(self, *, app_id: str, oa_id: str, now: float) -> TokenPair:
        """A new access + refresh pair, as a code exchange or Zalo's API Explorer gives."""
        self._prune(now)
        access = secrets.token_urlsafe(36)
        refresh = secrets.token_urlsafe(36)
        self.access[access] = {
            "app_id": app_id,
            "oa_id": oa_id,
            "issued_at": now,
            "expires_at": now + ACCESS_TTL,
        }
        self.refresh[refresh] = {
            "app_id": app_id,
            "oa_id": oa_id,
            "issued_at": now,
            "expires_at": now + REFRESH_TTL,
        }
        # "The old access token dies the instant a new one is minted" (API.md §1.5, one
        # live report). Earlier refresh tokens stay valid: nothing says otherwise.
        self.current[_pair_key(app_id, oa_id)] = access
        return TokenPair(access_token=access, refresh_token=refresh, expires_in=ACCESS_TTL)

    def rotate(self, *, app_id: str, refresh_token: str, now: float) -> TokenPair:
        """Spend a refresh token (single use) for a new pair.

        Whether the new refresh token gets a fresh 3 months or inherits the remainder is
        unconfirmed (API.md §1.5); the sandbox gives a fresh 3 months.
        """
        record = self.refresh.get(refresh_token)
        if record is None or record["app_id"] != app_id or record["expires_at"] <= now:
            raise GrantRefused(-14014)
        del self.refresh[refresh_token]
        return self.mint(app_id=app_id, oa_id=record["oa_id"], now=now)

    def check_access(self, token: str, now: float) -> AccessGrant:
        record = self.access.get(token)
        if record is None:
            raise TokenRejected(-216)
        live = self.current.get(_pair_key(record["app_id"], record["oa_id"])) == token
        if not live or record["expires_at"] <= now:
            raise TokenRejected(-220)
        return AccessGrant(
            token=token,
            app_id=record["app_id"],
            oa_id=record["oa_id"],
            expires_at=record["expires_at"],
        )

    def app_of(self, token: str) -> str | None:
        """The app a token was issued to, even a dead one (rate limits are per app)."""
        record = self.access.get(token)
        return record["app_id"] if record else None

    def status_of(self, token: str, now: float) -> str:
        try:
            self.check_access(token, now)
        except TokenRejected as exc:
            return "expired" if exc.code == -220 else "unknown"
        return "live"

    def _prune(self, now: float) -> None:
        # Keeps a long-running demo's memory and state file bounded. A pruned code or
        # refresh token answers the same error as an expired one.
        self.codes = {k: v for k, v in self.codes.items() if v["expires_at"] > now}
        self.refresh = {k: v for k, v in self.refresh.items() if v["expires_at"] > now}
        self.access = {
            k: v for k, v in self.access.items() if v["expires_at"] + ACCESS_MEMORY > now
        }

    # --- persistence ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "codes": self.codes,
            "access": self.access,
            "refresh": self.refresh,
            "current": self.current,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TokenBook":
        book = cls()
        book.codes = dict(data.get("codes") or {})
        book.access = dict(data.get("access") or {})
        book.refresh = dict(data.get("refresh") or {})
        book.current = dict(data.get("current") or {})
        return book
