"""A token refresh that meets a wrong encryption key: the OA recovers once the key is back."""

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.utils import timezone

from zalohub.accounts.models import OfficialAccount
from zalohub.accounts.tasks import refresh_oa_token
from zalohub.accounts.tokens import oa_refresh_token, oas_due_for_refresh

Status = OfficialAccount.Status


@pytest.mark.django_db
def test_a_wrong_key_during_a_refresh_heals_once_the_key_is_back(connected_oa, sandbox, settings):
    right = list(settings.ENCRYPTION_KEYS)
    OfficialAccount.objects.filter(pk=connected_oa.pk).update(
        token_expires_at=timezone.now() + timedelta(minutes=30)
    )
    old_refresh = connected_oa.refresh_token
    before = sandbox.call_count("oauth.access_token")

    # The hub restarts with a key list that lacks the key the tokens were written with.
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    oa = OfficialAccount.objects.select_related("app").get(pk=connected_oa.pk)
    outcome = oa_refresh_token(oa=oa)
    # It should say why, call nobody, and not give the OA up as broken.
    assert outcome.error and "ZALOHUB_ENCRYPTION_KEYS" in outcome.error
    assert outcome.retryable
    assert sandbox.call_count("oauth.access_token") == before
    oa = OfficialAccount.objects.get(pk=connected_oa.pk)
    assert oa.status == Status.CONNECTED
    assert "ZALOHUB_ENCRYPTION_KEYS" in oa.last_error

    # The right key is back: the worker's periodic refresh should take the OA up again
    # (it queues one task per due OA) and the OA should end Connected, error cleared.
    settings.ENCRYPTION_KEYS = right
    due = [o.pk for o in oas_due_for_refresh()]
    assert due == [connected_oa.pk]
    assert refresh_oa_token.call(connected_oa.pk) == "refreshed"
    oa = OfficialAccount.objects.get(pk=connected_oa.pk)
    assert oa.status == Status.CONNECTED and oa.last_error == ""
    assert oa.refresh_token != old_refresh
    assert sandbox.call_count("oauth.access_token") == before + 1


@pytest.mark.django_db
def test_a_wrong_key_shows_expired_once_the_token_ran_out(connected_oa, sandbox, settings):
    OfficialAccount.objects.filter(pk=connected_oa.pk).update(
        token_expires_at=timezone.now() - timedelta(minutes=1)
    )
    right = list(settings.ENCRYPTION_KEYS)
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    outcome = oa_refresh_token(oa=OfficialAccount.objects.get(pk=connected_oa.pk))
    # It should say the token ran out (not Error), and still be retried with the key back.
    assert outcome.oa.status == Status.EXPIRED
    settings.ENCRYPTION_KEYS = right
    assert [o.pk for o in oas_due_for_refresh()] == [connected_oa.pk]
    outcome = oa_refresh_token(oa=OfficialAccount.objects.get(pk=connected_oa.pk))
    assert outcome.refreshed and outcome.oa.status == Status.CONNECTED
