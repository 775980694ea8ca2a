"""Connecting an OA: OAuth v4 with PKCE against the sandbox, and every way it can fail."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.helpers import consent, consent_page
from zalohub.accounts.models import OAuthSession, OfficialAccount, ZaloApp
from zalohub.accounts.oauth import OAuthFailure, oauth_complete, oauth_start
from zalohub.apilog.models import ApiLog
from zalohub.zalo.oauth import code_challenge

pytestmark = pytest.mark.django_db
Status = OfficialAccount.Status


@pytest.fixture
def world(sandbox):
    from zalohub.sandbox.world import demo_world

    return demo_world()


@pytest.fixture
def app_a(world):
    spec = world["apps"][0]
    return ZaloApp.objects.create(
        name=spec["name"],
        app_id=spec["app_id"],
        secret_key=spec["secret_key"],
        oa_secret_key=spec["oa_secret_key"],
    )


@pytest.fixture
def oa(app_a):
    return OfficialAccount.objects.create(app=app_a, name="Support (draft)")


def _authorize(oa: OfficialAccount, **consent_kwargs) -> dict[str, str]:
    return consent(oauth_start(oa=oa), **consent_kwargs)


def test_it_connects_an_oa_and_syncs_its_profile(oa, world):
    url = oauth_start(oa=oa)
    query = parse_qs(urlsplit(url).query)
    session = OAuthSession.objects.get(oa=oa)
    # It should send Zalo the app, our callback, the S256 challenge of a fresh verifier, state.
    assert query["app_id"] == [oa.app.app_id]
    assert query["redirect_uri"] == [oa.app.callback_url]
    assert query["state"] == [session.state]
    assert query["code_challenge"] == [code_challenge(session.code_verifier)]
    assert len(session.code_verifier) == 43

    params = consent(url)
    oa = oauth_complete(app_id=oa.app.app_id, params=params)
    # It should connect the OA with its tokens, their expiries, and Zalo's profile.
    assert oa.status == Status.CONNECTED
    assert oa.oa_id == world["oas"][0]["oa_id"]
    assert oa.name == world["oas"][0]["name"]
    assert oa.avatar
    assert oa.access_token and oa.refresh_token
    assert oa.token_valid
    left = oa.token_expires_at - timezone.now()
    assert timedelta(hours=24, minutes=59) < left <= timedelta(hours=25)
    assert oa.refresh_token_expires_at > timezone.now() + timedelta(days=89)
    session.refresh_from_db()
    assert session.status == OAuthSession.Status.COMPLETED
    # It should log both calls, tied to the OA, with no credential in them.
    logs = ApiLog.objects.filter(oa=oa).order_by("created_at")
    assert [log.endpoint for log in logs] == ["oauth.access_token.code", "oa.getoa"]
    for log in logs:
        text = f"{log.url}{log.request_headers}{log.request_body}{log.response_body}"
        for secret in (
            oa.access_token,
            oa.refresh_token,
            session.code_verifier,
            params["code"],
            oa.app.secret_key,
        ):
            assert secret not in text


def test_it_supports_a_challenge_pinned_in_the_console(oa, sandbox):
    verifier = "fixed-verifier-" + "x" * 28
    oa.app.pkce_mode = ZaloApp.PKCEMode.FIXED
    oa.app.fixed_code_verifier = verifier
    oa.app.save()
    sandbox.apps[oa.app.app_id]["pinned_code_challenge"] = code_challenge(verifier)
    oa = oauth_complete(app_id=oa.app.app_id, params=_authorize(oa))
    assert oa.status == Status.CONNECTED


def test_it_fails_clearly_when_the_verifier_does_not_match(oa):
    params = _authorize(oa)
    OAuthSession.objects.filter(oa=oa).update(code_verifier="tampered-" + "y" * 34)
    with pytest.raises(OAuthFailure, match="-14005") as failure:
        oauth_complete(app_id=oa.app.app_id, params=params)
    # It should put the OA in Error with Zalo's reason, and keep no token.
    oa.refresh_from_db()
    assert oa.status == Status.ERROR
    assert "-14005" in oa.last_error
    assert not oa.access_token
    assert failure.value.oa == oa


def test_it_refuses_a_callback_without_state(oa):
    params = _authorize(oa)
    params.pop("state")
    with pytest.raises(OAuthFailure, match="no state"):
        oauth_complete(app_id=oa.app.app_id, params=params)
    oa.refresh_from_db()
    assert oa.status == Status.DRAFT


def test_it_refuses_an_unknown_state_and_an_unknown_app(oa):
    params = _authorize(oa)
    with pytest.raises(OAuthFailure, match="does not match"):
        oauth_complete(app_id=oa.app.app_id, params={**params, "state": "forged"})
    with pytest.raises(OAuthFailure, match="unknown Zalo app"):
        oauth_complete(app_id="999", params=params)


def test_it_ignores_a_replayed_callback(oa):
    params = _authorize(oa)
    oauth_complete(app_id=oa.app.app_id, params=params)
    with pytest.raises(OAuthFailure, match="already used"):
        oauth_complete(app_id=oa.app.app_id, params=params)
    # It should leave the working connection alone.
    oa.refresh_from_db()
    assert oa.status == Status.CONNECTED


def test_it_records_a_denied_consent(oa):
    params = _authorize(oa, action="deny")
    with pytest.raises(OAuthFailure, match="refused"):
        oauth_complete(app_id=oa.app.app_id, params=params)
    oa.refresh_from_db()
    assert oa.status == Status.ERROR
    assert "refused" in oa.last_error


def test_it_reports_an_expired_code(oa, sandbox):
    params = _authorize(oa)
    sandbox.advance_clock(11 * 60)  # Zalo's codes live 10 minutes
    with pytest.raises(OAuthFailure, match="-14005"):
        oauth_complete(app_id=oa.app.app_id, params=params)
    oa.refresh_from_db()
    assert oa.status == Status.ERROR


def test_it_reports_an_expired_session(oa):
    params = _authorize(oa)
    OAuthSession.objects.filter(oa=oa).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(OAuthFailure, match="too long"):
        oauth_complete(app_id=oa.app.app_id, params=params)


def test_it_reports_a_wrong_app_secret(oa):
    oa.app.secret_key = "not-the-secret"
    oa.app.save()
    with pytest.raises(OAuthFailure, match="-14004"):
        oauth_complete(app_id=oa.app.app_id, params=_authorize(oa))
    oa.refresh_from_db()
    assert oa.status == Status.ERROR
    assert "not-the-secret" not in oa.last_error
    log = ApiLog.objects.get(endpoint="oauth.access_token.code")
    assert log.error_code == -14004 and not log.ok


def test_it_refuses_an_oa_already_connected_elsewhere(oa, app_a):
    first = oauth_complete(app_id=app_a.app_id, params=_authorize(oa))
    second = OfficialAccount.objects.create(app=app_a, name="Duplicate")
    with pytest.raises(OAuthFailure, match="already connected"):
        oauth_complete(app_id=app_a.app_id, params=_authorize(second, oa_id=first.oa_id))
    second.refresh_from_db()
    assert second.status == Status.ERROR and not second.oa_id


def test_it_refuses_a_different_oa_than_the_record(oa, app_a, sandbox, world):
    oa.oa_id = world["oas"][0]["oa_id"]
    oa.save()
    other_oa = {**world["oas"][0], "oa_id": "4310500000000000999", "name": "Other OA"}
    sandbox.reset(
        {
            **world,
            "oas": [*world["oas"], other_oa],
            "apps": [
                {
                    **world["apps"][0],
                    "oa_ids": [*world["apps"][0]["oa_ids"], "4310500000000000999"],
                },
                world["apps"][1],
            ],
        }
    )
    with pytest.raises(OAuthFailure, match="4310500000000000999"):
        oauth_complete(app_id=app_a.app_id, params=_authorize(oa, oa_id="4310500000000000999"))


def test_it_shows_the_consent_error_for_an_unknown_app(oa):
    oa.app.app_id = "123"
    page = consent_page(oauth_start(oa=oa))
    assert "-14002" in page.text


def test_the_callback_page_never_fails_with_a_500(client, admin, oa):
    url = reverse("accounts:oauth_callback", kwargs={"app_id": oa.app.app_id})
    # It should show an error page to a browser that is not logged in.
    response = client.get(url, {"code": "x", "state": "nope"})
    assert response.status_code == 400
    assert b"does not match" in response.content
    # It should send a logged-in admin back to the OA with the reason.
    params = _authorize(oa, action="deny")
    client.force_login(admin)
    response = client.get(url, params)
    assert response.status_code == 302
    assert response["location"].endswith(f"/officialaccount/{oa.pk}/change/")
    # It should connect on success and say so.
    response = client.get(url, _authorize(oa), follow=True)
    assert response.status_code == 200
    assert "is connected to Zalo" in response.content.decode()


def test_the_buttons_drive_the_flow(client, admin, oa):
    client.force_login(admin)
    authorize = reverse("admin:accounts_officialaccount_authorize", args=[oa.pk])
    response = client.post(authorize)
    # It should send the browser to Zalo's consent page with a new session.
    assert response.status_code == 302
    assert "/v4/oa/permission?" in response["location"]
    assert OAuthSession.objects.filter(oa=oa, status="pending").count() == 1
    clear = reverse("admin:accounts_officialaccount_clear_session", args=[oa.pk])
    page = client.get(clear)
    assert b"incomplete authorization" in page.content
    client.post(clear)
    # It should delete only the incomplete session.
    assert not OAuthSession.objects.filter(oa=oa).exists()
    oauth_complete(app_id=oa.app.app_id, params=_authorize(oa))
    oa.refresh_from_db()
    page = client.get(reverse("admin:accounts_officialaccount_change", args=[oa.pk]))
    html = page.content.decode()
    for label in (
        "Authorize Account",
        "Clear OAuth Session",
        "Sync OA Profile",
        "API Logs",
        "OAuth Callback URL",
        "Webhook URL",
        "Token expires at",
        "token-ok",
    ):
        assert label in html
    assert oa.app.callback_url in html and oa.app.webhook_url in html
    assert oa.access_token not in html
    sync = reverse("admin:accounts_officialaccount_sync_profile", args=[oa.pk])
    assert client.post(sync, follow=True).status_code == 200


def test_a_failure_met_in_vietnamese_reads_in_english_and_back(oa):
    from django.utils import translation
    from django.utils.translation import gettext

    from zalohub.core.stored_text import shown_reason

    params = _authorize(oa)
    OAuthSession.objects.filter(oa=oa).update(expires_at=timezone.now() - timedelta(seconds=1))
    msgid = "The authorization took too long (its session expired). Press Authorize Account again."
    with translation.override("vi"):
        vietnamese = gettext(msgid)
        # The admin comes back from Zalo's page with the hub in Vietnamese.
        with pytest.raises(OAuthFailure) as failure:
            oauth_complete(app_id=oa.app.app_id, params=params)
    assert vietnamese != msgid
    # It should tell the admin in their language, and store it for every reader.
    assert failure.value.message == vietnamese
    oa.refresh_from_db()
    assert oa.last_error == msgid
    for language, expected in (("en", msgid), ("vi", vietnamese)):
        with translation.override(language):
            assert shown_reason(oa, "last_error") == expected
