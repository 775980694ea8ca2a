"""The OAuth callback belongs to the browser session that started it, and works when Zalo
sends no ``state`` back (its echo is unconfirmed, API.md §1.2): the single attempt this
browser started for the app and OA, within its expiry, or a refusal that says what to do
(issue 16 §6). Both ways against the sandbox: with state echoed, and without."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.helpers import consent
from zalohub.accounts.models import OAuthSession, OfficialAccount, ZaloApp
from zalohub.sandbox.world import demo_world

pytestmark = pytest.mark.django_db
Status = OfficialAccount.Status


@pytest.fixture
def app(sandbox) -> ZaloApp:
    spec = demo_world()["apps"][0]
    return ZaloApp.objects.create(
        name=spec["name"],
        app_id=spec["app_id"],
        secret_key=spec["secret_key"],
        oa_secret_key=spec["oa_secret_key"],
    )


@pytest.fixture
def oa(app) -> OfficialAccount:
    return OfficialAccount.objects.create(app=app, name="Support (draft)")


@pytest.fixture
def stateless(sandbox, app) -> None:
    """Zalo answers with code and oa_id only, as its docs show."""
    sandbox.apps[app.app_id]["echo_state"] = False


def _browser(user=None) -> Client:  # type: ignore[no-untyped-def]
    browser = Client()
    if user is not None:
        browser.force_login(user)
    return browser


def _start(browser: Client, oa: OfficialAccount) -> dict[str, str]:
    """Press Authorize Account, approve on Zalo's page: the callback's query."""
    answer = browser.post(reverse("admin:accounts_officialaccount_authorize", args=[oa.pk]))
    assert answer.status_code == 302, answer.content[:300]
    return consent(answer["location"])


def _callback(browser: Client, oa: OfficialAccount, params: dict[str, str]):  # type: ignore[no-untyped-def]
    url = reverse("accounts:oauth_callback", kwargs={"app_id": oa.app.app_id})
    return browser.get(url, params)


def _shown(browser: Client, answer) -> str:  # type: ignore[no-untyped-def]
    """What the admin reads: the error page, or the message on the page redirected to."""
    if answer.status_code == 302:
        return browser.get(answer["location"]).content.decode()
    return answer.content.decode()


def _connected(answer, oa: OfficialAccount) -> bool:  # type: ignore[no-untyped-def]
    oa.refresh_from_db()
    return answer.status_code == 302 and oa.status == Status.CONNECTED


def test_it_connects_without_state_in_the_browser_that_started_it(admin, oa, stateless):
    browser = _browser(admin)
    params = _start(browser, oa)
    # The sandbox left state out, as Zalo's documented callback does.
    assert "state" not in params and params["code"] and params["oa_id"]
    answer = _callback(browser, oa, params)
    # It should find the one attempt this browser started, and connect the OA.
    assert _connected(answer, oa), answer.content[:500]
    assert answer["location"].endswith(f"/officialaccount/{oa.pk}/change/")
    assert OAuthSession.objects.get(oa=oa).status == OAuthSession.Status.COMPLETED


def test_a_stateless_callback_in_another_browser_is_refused(admin, oa, stateless):
    params = _start(_browser(admin), oa)
    # Another browser (not signed in, and not the one that started it).
    answer = _callback(_browser(), oa, params)
    # It should refuse, saying what to do, and leave the attempt for its own browser.
    assert answer.status_code == 400
    assert "Press Authorize Account again" in answer.content.decode()
    oa.refresh_from_db()
    assert oa.status == Status.DRAFT
    assert OAuthSession.objects.get(oa=oa).status == OAuthSession.Status.PENDING


def test_a_stateless_callback_with_two_attempts_waiting_is_refused(admin, oa, stateless):
    browser = _browser(admin)
    _start(browser, oa)
    params = _start(browser, oa)
    answer = _callback(browser, oa, params)
    # It should not guess between two attempts of this browser: it says how to start over.
    assert not _connected(answer, oa)
    shown = _shown(browser, answer)
    assert "several authorizations" in shown and "Clear OAuth Session" in shown
    browser.post(reverse("admin:accounts_officialaccount_clear_session", args=[oa.pk]))
    assert _connected(_callback(browser, oa, _start(browser, oa)), oa)


def test_a_stateless_callback_after_the_attempt_expired_is_refused(admin, oa, stateless):
    browser = _browser(admin)
    params = _start(browser, oa)
    OAuthSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    answer = _callback(browser, oa, params)
    # It should refuse a callback no waiting attempt of this browser can answer.
    assert not _connected(answer, oa)
    assert "no authorization started in this browser is waiting" in _shown(browser, answer)


def test_the_state_is_bound_to_the_browser_that_started_it(admin, oa, sandbox):
    browser = _browser(admin)
    params = _start(browser, oa)
    assert params["state"]  # Zalo echoes it (the sandbox's default)
    # The same admin, signed in from another browser: a different session.
    elsewhere = _callback(_browser(admin), oa, params)
    assert elsewhere.status_code == 400
    assert "started in another browser" in elsewhere.content.decode()
    oa.refresh_from_db()
    assert oa.status == Status.DRAFT
    # It should still complete in the browser that started it.
    assert _connected(_callback(browser, oa, params), oa)
