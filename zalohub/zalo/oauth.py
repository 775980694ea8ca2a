"""OAuth v4 for Official Accounts: consent URL, code exchange, refresh, PKCE (S256)."""

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from zalohub.zalo.errors import ErrorKind, ZaloError
from zalohub.zalo.transport import ZaloTransport


def make_code_verifier() -> str:
    """43 url-safe characters from 32 random bytes, as Zalo's SDKs make them."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str | None  # Zalo may omit it: keep the one you have
    expires_in: int  # seconds


class OAuthAPI:
    def __init__(self, transport: ZaloTransport, base_url: str) -> None:
        self._t = transport
        self._base = base_url

    def authorization_url(
        self, *, app_id: str, redirect_uri: str, code_challenge: str, state: str
    ) -> str:
        query = urlencode(
            {
                "app_id": app_id,
                "redirect_uri": redirect_uri,
                "code_challenge": code_challenge,
                "state": state,
            }
        )
        return f"{self._base}/v4/oa/permission?{query}"

    def exchange_code(
        self, *, app_id: str, secret_key: str, code: str, code_verifier: str
    ) -> TokenGrant:
        body = self._t.request(
            "POST",
            f"{self._base}/v4/oa/access_token",
            endpoint="oauth.access_token.code",
            headers={"secret_key": secret_key},
            form={
                "code": code,
                "app_id": app_id,
                "grant_type": "authorization_code",
                "code_verifier": code_verifier,
            },
        )
        return _grant(body, "oauth.access_token.code")

    def refresh(self, *, app_id: str, secret_key: str, refresh_token: str) -> TokenGrant:
        body = self._t.request(
            "POST",
            f"{self._base}/v4/oa/access_token",
            endpoint="oauth.access_token.refresh",
            headers={"secret_key": secret_key},
            form={
                "refresh_token": refresh_token,
                "app_id": app_id,
                "grant_type": "refresh_token",
            },
        )
        return _grant(body, "oauth.access_token.refresh")


def _grant(body: dict, endpoint: str) -> TokenGrant:
    access = body.get("access_token")
    if not access:
        raise ZaloError(
            "Zalo's token answer has no access_token", kind=ErrorKind.PERMANENT, endpoint=endpoint
        )
    try:
        expires_in = int(body.get("expires_in") or 90000)  # Zalo sends it as a string
    except (TypeError, ValueError):
        expires_in = 90000
    return TokenGrant(
        access_token=str(access),
        refresh_token=str(body["refresh_token"]) if body.get("refresh_token") else None,
        expires_in=expires_in,
    )
