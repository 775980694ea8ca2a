"""`zalohub doctor` and the escalation bundle: the guide's summary, with no secret in it."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from tests.diagnostics.conftest import refresh
from zalohub.accounts.models import OfficialAccount
from zalohub.apilog.models import ApiLog
from zalohub.core.crypto import reveal
from zalohub.diagnostics.bundle import bundle_json, bundle_text, escalation_bundle
from zalohub.events.models import ZaloEvent

pytestmark = pytest.mark.django_db


def _doctor(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("doctor", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def test_it_exits_zero_for_a_healthy_oa(connected_oa, customer_writes):
    customer_writes()
    code, out = _doctor()
    # It should print the OA's summary and exit 0.
    assert code == 0
    assert "Support" in out and "[GREEN] Token / authorization" in out


def test_it_exits_non_zero_when_an_oa_is_red(connected_oa, customer_writes):
    customer_writes()
    OfficialAccount.objects.filter(pk=connected_oa.pk).update(
        status=OfficialAccount.Status.ERROR, last_error="Zalo rejected the refresh token."
    )
    code, out = _doctor("--oa", str(connected_oa.pk))
    # It should exit 1 and say what is red, with the next step.
    assert code == 1
    assert "[RED] Token / authorization" in out
    assert "Authorize Account" in out
    code, out = _doctor("--json")
    assert code == 1
    assert json.loads(out)["oas"][0]["health"] == "red"


def test_it_refuses_an_unknown_oa_id(db):
    with pytest.raises(CommandError):
        call_command("doctor", "--oa", "999999", stdout=StringIO())


def _secrets(oa: OfficialAccount) -> list[str]:
    return [
        reveal(oa.access_token, what="t"),
        reveal(oa.refresh_token, what="t"),
        reveal(oa.app.secret_key, what="t"),
        reveal(oa.app.oa_secret_key, what="t"),
    ]


def test_it_leaves_no_token_or_secret_in_the_bundle(connected_oa, send, scenario, admin, client):
    scenario("zalo_5xx", endpoint="oa.message")
    send(1)
    oa = OfficialAccount.objects.get(pk=connected_oa.pk)
    secrets = _secrets(oa)
    assert all(secrets)
    # A careless log row that quotes every secret in its body, URL and error message.
    leaked = ApiLog.objects.create(
        created_at=oa.created_at,
        method="POST",
        endpoint="oa.message.cs",
        url=f"https://openapi.zalo.me/v3.0/oa/message/cs?access_token={secrets[0]}",
        http_status=500,
        ok=False,
        error_code=None,
        error_kind="retryable",
        error_message=f"boom {secrets[0]} {secrets[2]}",
        duration_ms=12,
        request_headers={"access_token": secrets[0], "x-debug": secrets[3]},
        request_body=json.dumps({"refresh_token": secrets[1], "note": secrets[2]}),
        response_body=f"echo {secrets[3]}",
        oa=oa,
        app=oa.app,
    )
    event = ZaloEvent.objects.filter(oa=oa, direction="out").latest("id")
    for bundle in (
        escalation_bundle(oa=oa),
        escalation_bundle(api_log=leaked),
        escalation_bundle(event=event),
    ):
        text, data = bundle_text(bundle), bundle_json(bundle)
        # It should contain none of the OA's tokens or the app's secrets, in either form.
        for secret in secrets:
            assert secret not in text
            assert secret not in data
        # It should still hold the guide's summary.
        assert "Support" in text and "Account status" in text
        assert "Pre-escalation checklist" in text
    # It should serve the same from the admin, as a page and as a JSON file.
    client.force_login(admin)
    for kind, pk in (("oa", oa.pk), ("event", event.pk), ("apilog", leaked.pk)):
        page = client.get(f"/admin/diagnostics/healthsnapshot/escalation/{kind}/{pk}/")
        assert page.status_code == 200
        download = client.get(
            f"/admin/diagnostics/healthsnapshot/escalation/{kind}/{pk}/?format=json"
        )
        assert download["Content-Disposition"].startswith("attachment;")
        body = page.content.decode() + download.content.decode()
        assert not any(secret in body for secret in secrets)
        assert json.loads(download.content)["oa"]["name"] == "Support OA"


def test_it_carries_the_event_and_its_api_log_into_the_bundle(
    connected_oa, send, scenario, settings
):
    settings.EVENTS_MAX_ATTEMPTS = 1
    scenario("missing_phone", endpoint="oa.message")
    send(1)
    event = ZaloEvent.objects.filter(oa=connected_oa, direction="out").latest("id")
    bundle = escalation_bundle(event=event)
    # It should hold the event's states, the API log with request and response, the
    # error message, the category and its next step.
    assert bundle["event"]["processing_state"] == "Error"
    assert bundle["event"]["zalo_state"] == "Failed"
    assert bundle["api_log"]["zalo_error_code"] == -108
    assert bundle["api_log"]["request_body"] and bundle["api_log"]["response_body"]
    assert bundle["error"]["category"] == "Recipient not identified"
    assert "84xxxxxxxxx" in bundle["error"]["next_step"]
    assert refresh(connected_oa).check("recipients").level == "amber"


def test_it_names_the_health_level_in_the_readers_language(connected_oa, customer_writes):
    customer_writes()
    bundle = escalation_bundle(oa=connected_oa)
    assert bundle["health"] == "green"
    # It should say the level's label in the summary, not its code (the JSON keeps it).
    assert "\nHealth: Healthy\n" in bundle_text(bundle)
    with translation.override("vi"):
        assert "\nSức khỏe: Bình thường\n" in bundle_text(bundle)
