"""Background work for OAs: the token refresher and profile syncs."""

from django.tasks import task

from zalohub.accounts.models import OfficialAccount
from zalohub.accounts.tokens import mark_expired_tokens, oa_refresh_token, oas_due_for_refresh
from zalohub.core import periodic


@task(queue_name="zalo")
def refresh_oa_token(oa_pk: int) -> str:
    oa = OfficialAccount.objects.select_related("app").filter(pk=oa_pk).first()
    if oa is None:
        return "gone"
    outcome = oa_refresh_token(oa=oa)
    return "refreshed" if outcome.refreshed else (outcome.error or "not needed")


@periodic.register("accounts.refresh_tokens", every_seconds=60)
def refresh_due_tokens() -> None:
    # Each refresh re-checks under its own claim, so enqueueing one twice is harmless.
    for oa in oas_due_for_refresh():
        refresh_oa_token.enqueue(oa.pk)
    mark_expired_tokens()
