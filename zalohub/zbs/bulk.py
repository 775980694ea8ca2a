"""Bulk sends: one template to a list of partners, quota checked first, one by one.

``bulk_start`` reads the OA's quota from Zalo and refuses a list longer than what is
left today. The task then sends to each partner in order, each through the normal
pipeline; when Zalo says the quota is spent, the bulk stops and the partners not yet
reached are marked Not sent, with the reason, rather than tried and failed one by one.
"""

from typing import Any

from django.db import transaction
from django.tasks import task
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from zalohub.accounts.scope import may_act_in
from zalohub.accounts.tokens import TokenUnavailable
from zalohub.core.stored_text import Reason, reason, reason_fields, stored_reason
from zalohub.events.models import ZaloState
from zalohub.partners.models import Partner
from zalohub.zalo import ZaloError
from zalohub.zbs.delivery import deliver_template
from zalohub.zbs.mapping import values_for
from zalohub.zbs.models import BulkRecipient, BulkSend, Template
from zalohub.zbs.routes import SendProblem
from zalohub.zbs.sending import TemplateSendRefused, template_send
from zalohub.zbs.services import TemplateActionRefused, quota_refresh

Outcome = BulkRecipient.Outcome


def bulk_start(
    *,
    template: Template,
    partners: list[Partner],
    params: dict[str, Any],
    mapping: dict[str, dict] | None = None,
    route_policy: str = "",
    actor: Any = None,
    enqueue: bool = True,
) -> BulkSend:
    """Start sending ``template`` to ``partners``: ``params`` are the constants, and
    ``mapping`` names the parameters taken from each partner (zbs.mapping)."""
    # The screens look the template up in the user's OAs already; the service holds the
    # same line for any other caller acting for a person (issue 13 §2).
    if getattr(actor, "is_authenticated", False) and not may_act_in(actor, template.oa_id):
        raise TemplateActionRefused(_("Only members of this OA and Zalo Admins may send from it."))
    if template.status != Template.Status.APPROVED:
        raise TemplateActionRefused(_("Only an Approved template can be sent."))
    unique = list(dict.fromkeys(p.resolved() for p in partners))
    if not unique:
        raise TemplateActionRefused(_("Choose at least one partner."))
    try:
        quota = quota_refresh(oa=template.oa)
    except (ZaloError, TokenUnavailable) as exc:
        raise TemplateActionRefused(_("Zalo's quota could not be read: %s") % exc) from None
    if quota.remaining_quota is not None and quota.remaining_quota < len(unique):
        raise TemplateActionRefused(
            _(
                "%(n)d partners chosen but only %(left)d sends are left in today's quota "
                "(%(daily)d a day): choose fewer or send tomorrow."
            )
            % {"n": len(unique), "left": quota.remaining_quota, "daily": quota.daily_quota or 0}
        )
    with transaction.atomic():
        bulk = BulkSend.objects.create(
            oa=template.oa,
            template=template,
            params=params,
            mapping=mapping or {},
            route_policy=route_policy,
            total=len(unique),
            actor=actor if getattr(actor, "pk", None) else None,
        )
        BulkRecipient.objects.bulk_create(
            BulkRecipient(bulk=bulk, partner=p, position=i) for i, p in enumerate(unique)
        )
        if enqueue:
            transaction.on_commit(lambda: bulk_task.enqueue(bulk.pk))
    return bulk


@task(queue_name="zalo")
def bulk_task(bulk_id: int) -> str:
    return bulk_run(bulk=BulkSend.objects.get(pk=bulk_id))


def bulk_run(*, bulk: BulkSend) -> str:
    """Send to every partner still waiting, in order (re-runnable after a crash)."""
    for recipient in bulk.recipients.filter(outcome=Outcome.PENDING).select_related("partner"):
        bulk.refresh_from_db(fields=["status", "stop_reason", "stop_reason_i18n"])
        if bulk.status == BulkSend.Status.STOPPED:
            break
        try:
            send = template_send(
                partner=recipient.partner,
                template=bulk.template,
                params=values_for(recipient.partner, bulk.params, bulk.mapping),
                route_policy=bulk.route_policy,
                actor=bulk.actor,
                bulk=bulk,
                enqueue=False,
            )
        except TemplateSendRefused as exc:
            _note(recipient, Outcome.FAILED, exc.reason, exc.send)
            continue
        except SendProblem as exc:
            _note(recipient, Outcome.FAILED, exc.reason, None)
            continue
        event = send.message.events.get()
        deliver_template(event_id=event.pk, worker_id=f"bulk-{bulk.pk}")
        send.message.refresh_from_db()
        _note(recipient, *_outcome(send.message), send)
    return bulk_finish(bulk=bulk)


def _outcome(message: Any) -> tuple[str, Reason | None]:
    if message.zalo_state == ZaloState.FAILED:
        return Outcome.FAILED, stored_reason(message, "failure_reason")
    if message.zalo_state == ZaloState.ON_QUEUE:
        return Outcome.QUEUED, reason(gettext_noop("Zalo did not answer yet; it is tried again."))
    return Outcome.SENT, None


def _note(recipient: BulkRecipient, outcome: str, detail: Reason | None, send: Any) -> None:
    BulkRecipient.objects.filter(pk=recipient.pk).update(
        outcome=outcome, send=send, **reason_fields("detail", detail)
    )


def bulk_stop(*, bulk: BulkSend, reason: Reason | str) -> None:
    BulkSend.objects.filter(pk=bulk.pk, status=BulkSend.Status.RUNNING).update(
        status=BulkSend.Status.STOPPED,
        finished_at=timezone.now(),
        **reason_fields("stop_reason", reason),
    )


def bulk_finish(*, bulk: BulkSend) -> str:
    bulk.refresh_from_db()
    if bulk.status == BulkSend.Status.STOPPED:
        bulk.recipients.filter(outcome=Outcome.PENDING).update(
            outcome=Outcome.SKIPPED,
            **reason_fields(
                "detail",
                reason(gettext_noop("Not sent: %s"), stored_reason(bulk, "stop_reason") or "—"),
            ),
        )
        return "stopped"
    BulkSend.objects.filter(pk=bulk.pk, status=BulkSend.Status.RUNNING).update(
        status=BulkSend.Status.DONE, finished_at=timezone.now()
    )
    return "done"


def bulk_progress(*, bulk: BulkSend) -> dict[str, Any]:
    counts = {o: 0 for o in Outcome.values}
    for row in bulk.recipients.values_list("outcome", flat=True):
        counts[row] += 1
    done = bulk.total - counts[Outcome.PENDING]
    return {
        "done": done,
        "total": bulk.total,
        "percent": round(100 * done / bulk.total) if bulk.total else 100,
        "counts": counts,
    }
