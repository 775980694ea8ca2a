"""Refused webhook requests, as a finding of their own. Anyone can POST to the public
webhook URL, so refused requests alone are evidence of an attack or a broken sender, not
of a wrong key: this check is never red (so it never opens an incident, alerts anyone or
makes ``doctor`` fail). The webhook check names a wrong key on its own evidence."""

from collections import Counter
from datetime import datetime

# Texts are stored untranslated and rendered per reader (text.py): _ only marks them.
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_noop as _

from zalohub.accounts.models import OfficialAccount
from zalohub.diagnostics.checks import CheckResult, Evidence, Fact, links
from zalohub.diagnostics.checks.webhook import (
    WrongSecret,
    genuine_deliveries,
    has_signature,
    window,
    window_label,
)
from zalohub.diagnostics.models import Level
from zalohub.diagnostics.registry import Inputs, register_check
from zalohub.diagnostics.text import Msg, msg
from zalohub.events.models import RejectedRequest

MAX_LOOKED_AT = 2000


def _tally(refused: QuerySet[RejectedRequest]) -> tuple[Counter[str], Counter[str]]:
    """The refused requests by kind, and by sender address."""
    kinds: Counter[str] = Counter()
    senders: Counter[str] = Counter()
    for row in refused.only("status_code", "headers", "remote_addr")[:MAX_LOOKED_AT]:
        if row.status_code == 401:
            kinds["bad" if has_signature(row) else "unsigned"] += 1
        elif row.status_code in (400, 413):
            kinds["malformed"] += 1
        else:
            kinds["other"] += 1
        senders[row.remote_addr or "?"] += 1
    return kinds, senders


def _verdict(
    *, total: int, wrong: WrongSecret | None, kinds: Counter[str], span: Msg
) -> tuple[str, Msg, Msg | str]:
    """Level, summary and next step: never red (see the module's docstring)."""
    if not total:
        return Level.GREEN, msg(_("No webhook request refused in the last %s."), span), ""
    if wrong is not None:
        text = _(
            "%(n)d webhook request(s) refused in the last %(window)s: Zalo's own, "
            "refused because the OA secret key is wrong (see Webhook receiving)."
        )
        return Level.AMBER, msg(text, n=total, window=span), ""
    text = _(
        "%(n)d webhook request(s) refused in the last %(window)s (%(bad)d with a "
        "bad signature, %(unsigned)d unsigned, %(malformed)d malformed, %(other)d "
        "other): forged or broken requests, not Zalo's. Nobody is alerted for "
        "these alone."
    )
    summary = msg(
        text,
        n=total,
        window=span,
        bad=kinds["bad"],
        unsigned=kinds["unsigned"],
        malformed=kinds["malformed"],
        other=kinds["other"],
    )
    step = msg(
        _(
            "Look at the refused requests' addresses: if they are not Zalo's, block them "
            "at your proxy. If you expected them to pass, run the webhook self-test: it "
            "asks Zalo to deliver a test event."
        )
    )
    return Level.AMBER, summary, step


def check_refused(*, oa: OfficialAccount, now: datetime, wrong: WrongSecret | None) -> CheckResult:
    since = now - window()
    refused = RejectedRequest.objects.filter(app_id=oa.app.app_id, received_at__gte=since)
    total = refused.count()
    kinds, senders = _tally(refused)
    span = window_label()
    level, summary, step = _verdict(total=total, wrong=wrong, kinds=kinds, span=span)
    facts: list[Fact] = [
        (msg(_("Window")), span),
        (msg(_("Refused requests")), str(total)),
        (msg(_("Bad signature")), str(kinds["bad"])),
        (msg(_("Unsigned")), str(kinds["unsigned"])),
        (msg(_("Malformed (not JSON, too large)")), str(kinds["malformed"])),
        (msg(_("Other (unknown app, wrong app id)")), str(kinds["other"])),
        (msg(_("Genuine deliveries in the window")), str(genuine_deliveries(oa, since).count())),
    ]
    if senders:
        top = ", ".join(f"{addr} ({n})" for addr, n in senders.most_common(3))
        facts.append((msg(_("Sent from")), top))
    return CheckResult(
        key="refused",
        title=msg(_("Refused webhook requests")),
        level=level,
        summary=summary,
        next_step=step,
        facts=facts,
        evidence=[
            Evidence(
                msg(_("Refused webhook requests (window)")),
                links.rejected(oa, received_at__gte=since),
                total,
            )
        ],
    )


@register_check("refused", title=gettext_lazy("Refused webhook requests"), position=30)
def run_check(inputs: Inputs) -> CheckResult:
    return check_refused(oa=inputs.oa, now=inputs.now, wrong=inputs.wrong)
