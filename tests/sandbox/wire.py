"""Talking to the sandbox over raw HTTP, as Zalo's documentation says to (no hub code)."""

import base64
import hashlib
import json
import secrets
from urllib.parse import parse_qsl, urlsplit

import httpx

from zalohub.sandbox.world import APP_SALES_ID, APP_SUPPORT_ID, OA_SALES_ID, OA_SUPPORT_ID

CALLBACK = "http://127.0.0.1:9/zalo/oauth/callback/"  # never contacted: redirects are not followed
SECRETS = {APP_SUPPORT_ID: "sandbox-secret-app-a", APP_SALES_ID: "sandbox-secret-app-b"}
OA_OF = {APP_SUPPORT_ID: OA_SUPPORT_ID, APP_SALES_ID: OA_SALES_ID}


def make_verifier() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def challenge_of(verifier: str) -> str:
    # Written out here rather than imported, so the tests do not share the sandbox's code.
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


def query_of(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text[:300]
    return dict(parse_qsl(urlsplit(response.headers["location"]).query))


class Wire:
    def __init__(self, base_url: str, http: httpx.Client) -> None:
        self.base = base_url
        self.http = http

    # --- OAuth host ----------------------------------------------------------------------
    def consent_page(self, **params: str) -> httpx.Response:
        return self.http.get(f"{self.base}/oauth/v4/oa/permission", params=params)

    def answer(
        self,
        action: str,
        *,
        app_id: str = APP_SUPPORT_ID,
        oa_id: str | None = None,
        challenge: str = "",
        state: str = "st-1",
        redirect_uri: str = CALLBACK,
    ) -> httpx.Response:
        form = {
            "app_id": app_id,
            "redirect_uri": redirect_uri,
            "code_challenge": challenge,
            "state": state,
            "action": action,
            "oa_id": oa_id or OA_OF.get(app_id, ""),
        }
        return self.http.post(f"{self.base}/oauth/v4/oa/permission", data=form)

    def approve(
        self, *, app_id: str = APP_SUPPORT_ID, verifier: str | None = None, **kwargs: str
    ) -> dict[str, str]:
        challenge = challenge_of(verifier) if verifier else ""
        return query_of(self.answer("approve", app_id=app_id, challenge=challenge, **kwargs))

    def token(
        self,
        form: dict[str, str],
        *,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        app_id = form.get("app_id", APP_SUPPORT_ID)
        sent = headers if headers is not None else {"secret_key": secret or SECRETS[app_id]}
        return self.http.post(
            f"{self.base}/oauth/v4/oa/access_token",
            data=form,
            headers=sent,
            timeout=timeout or self.http.timeout,
        )

    def by_code(
        self, code: str, verifier: str, *, app_id: str = APP_SUPPORT_ID, secret: str | None = None
    ) -> dict:
        form = {
            "code": code,
            "app_id": app_id,
            "grant_type": "authorization_code",
            "code_verifier": verifier,
        }
        return self.token(form, secret=secret).json()

    def by_refresh(self, refresh_token: str, *, app_id: str = APP_SUPPORT_ID) -> dict:
        form = {"refresh_token": refresh_token, "app_id": app_id, "grant_type": "refresh_token"}
        return self.token(form).json()

    def connect(self, app_id: str = APP_SUPPORT_ID, oa_id: str | None = None) -> dict:
        """Consent + code exchange: a fresh token pair for the app's OA."""
        verifier = make_verifier()
        params = self.approve(app_id=app_id, verifier=verifier, oa_id=oa_id or OA_OF[app_id])
        tokens = self.by_code(params["code"], verifier, app_id=app_id)
        assert "access_token" in tokens, tokens
        return tokens

    # --- OA host -------------------------------------------------------------------------
    def getoa(self, access_token: str | None, **kwargs: object) -> httpx.Response:
        headers = {"access_token": access_token} if access_token is not None else {}
        return self.http.get(f"{self.base}/openapi/v2.0/oa/getoa", headers=headers, **kwargs)

    def user_detail(
        self, access_token: str, user_id: object = None, *, data: str | None = None
    ) -> httpx.Response:
        raw = data if data is not None else json.dumps({"user_id": user_id})
        return self.http.get(
            f"{self.base}/openapi/v3.0/oa/user/detail",
            params={"data": raw},
            headers={"access_token": access_token},
        )

    def send_cs(self, access_token: str, body: object) -> httpx.Response:
        return self.http.post(
            f"{self.base}/openapi/v3.0/oa/message/cs",
            json=body,
            headers={"access_token": access_token},
        )

    def send_text(self, access_token: str, user_id: str, text: str = "Chào anh") -> dict:
        body = {"recipient": {"user_id": user_id}, "message": {"text": text}}
        return self.send_cs(access_token, body).json()

    def upload(
        self, access_token: str, kind: str, filename: str, content: bytes, ctype: str
    ) -> httpx.Response:
        return self.http.post(
            f"{self.base}/openapi/v2.0/oa/upload/{kind}",
            files={"file": (filename, content, ctype)},
            headers={"access_token": access_token},
        )

    def deliveries(self, **params: str) -> dict:
        """The delivery log, once every delivery has finished (retries included)."""
        body = self.http.get(
            f"{self.base}/_sandbox/webhooks/deliveries", params={"wait": "10", **params}
        ).json()
        assert body["idle"], body
        return body

    def customer(self, action: str, **body: object) -> dict:
        response = self.control("POST", f"customers/{action}", body)
        assert response.status_code == 200, response.text
        return response.json()["emitted"][0]

    # --- controls ------------------------------------------------------------------------
    def control(self, method: str, path: str, body: object = None) -> httpx.Response:
        return self.http.request(
            method, f"{self.base}/_sandbox/{path}", json=body if body is not None else None
        )
