"""The OA's Approved templates, offered in the inbox's composer once the customer's free
reply window has closed (issue 19), their parameters filled from the customer.

Registered with ``events.window_offers`` in ``ZbsConfig.ready()``. A parameter is filled
from the partner when its Zalo type or its name says what it holds (a customer name, a
phone, an email, one of the partner's external references by its key); the agent edits
any of them before sending. The send is ``template_send``'s, by the OA's route policy;
whatever would refuse it (permission, a template no longer Approved, the day's quota
spent, a parameter, no route to the customer) is said before anything is queued.
"""

import re
from typing import Any

from django.utils.translation import gettext as _

from zalohub.accounts.models import OfficialAccount
from zalohub.events.models import Message
from zalohub.events.window_offers import Offer, OfferField, OfferProvider, OfferRefused, Offers
from zalohub.partners.models import Partner, ZaloPartnerLink
from zalohub.zbs.lint import PARAM_TYPES, type_limit
from zalohub.zbs.models import Template
from zalohub.zbs.routes import SendProblem, check_params, choose_route, partner_phone
from zalohub.zbs.sending import TemplateSendRefused, template_send
from zalohub.zbs.services import oa_settings

NAME = "zbs"
PERMISSION = "zbs.send_template"
NAME_TYPE, PHONE_TYPE = 1, 2
# The name partners give a shadow contact until its Zalo profile arrives, in either language.
PLACEHOLDER = re.compile(r"(?:Zalo user|Người dùng Zalo) \d{1,6}")


def _partner(link: ZaloPartnerLink | None) -> Partner | None:
    if link is None or link.partner_id is None:
        return None
    return link.partner.resolved()


def _customer_name(partner: Partner, link: ZaloPartnerLink) -> str:
    # A shadow contact's placeholder ("Zalo user 123456") is no name to greet anyone by.
    name = "" if PLACEHOLDER.fullmatch(partner.name) else partner.name
    return name or link.display_name


def customer_value(partner: Partner, link: ZaloPartnerLink, param: dict[str, Any]) -> str:
    """What the customer's record says for ``param``, or "" when it says nothing."""
    name = str(param.get("name") or "").lower()
    kind = int(param.get("type") or 0)
    refs = {str(k).lower(): str(v) for k, v in (partner.external_refs or {}).items()}
    if name in refs:
        return refs[name]
    if kind == NAME_TYPE or name in ("name", "customer_name", "full_name", "ten_khach_hang"):
        return _customer_name(partner, link)
    if kind == PHONE_TYPE or "phone" in name:
        return partner_phone(partner)[0]
    if "email" in name:
        return partner.email
    return ""


def _label(param: dict[str, Any]) -> str:
    kind = PARAM_TYPES.get(int(param.get("type") or 0))
    return f"{param.get('name')} ({kind[0]})" if kind else str(param.get("name"))


def offers(*, oa: OfficialAccount, link: ZaloPartnerLink | None, user: Any) -> Offers:
    if not user.has_perm(PERMISSION):
        return Offers(
            unavailable=[
                _("Sending ZBS templates needs the permission to send templates: ask a Zalo Admin.")
            ]
        )
    partner = _partner(link)
    if partner is None or link is None:
        return Offers(
            unavailable=[_("This customer has no contact yet, so no template can be sent.")]
        )
    templates = Template.objects.filter(oa=oa, status=Template.Status.APPROVED).exclude(
        zalo_template_id=""
    )
    items = [
        Offer(
            provider=NAME,
            key=str(template.pk),
            title=template.name,
            body=template.body,
            fields=tuple(
                OfferField(
                    name=str(param.get("name")),
                    label=_label(param),
                    value=customer_value(partner, link, param)[
                        : int(param.get("max_length") or type_limit(param))
                    ],
                    max_length=int(param.get("max_length") or type_limit(param)),
                    required=bool(param.get("require", True)),
                )
                for param in template.params
            ),
            note=_("Zalo charges %s VND per message.") % template.price if template.price else "",
        )
        for template in templates
    ]
    if not items:
        return Offers(unavailable=[_("This OA has no Approved ZBS template yet.")])
    return Offers(items)


def send(
    *,
    key: str,
    oa: OfficialAccount,
    link: ZaloPartnerLink | None,
    values: dict[str, str],
    actor: Any,
) -> Message:
    if not actor.has_perm(PERMISSION):
        raise OfferRefused(
            _("Sending ZBS templates needs the permission to send templates: ask a Zalo Admin.")
        )
    partner = _partner(link)
    if partner is None:
        raise OfferRefused(_("This customer has no contact yet, so no template can be sent."))
    template = Template.objects.filter(oa=oa, pk=int(key) if key.isdigit() else 0).first()
    if template is None:
        raise OfferRefused(_("This template is not one of this OA's any more."))
    if template.status != Template.Status.APPROVED:
        raise OfferRefused(
            _("The template “%(name)s” is %(status)s, not Approved: it cannot be sent.")
            % {"name": template.name, "status": Template.Status(template.status).label}
        )
    settings = oa_settings(oa)
    if settings.remaining_quota == 0:
        raise OfferRefused(
            _(
                "The OA's ZBS quota for today is spent (0 of %(daily)s left): Zalo would "
                "refuse the send. Try again tomorrow, or ask Zalo for a higher quota."
            )
            % {"daily": settings.daily_quota if settings.daily_quota is not None else "?"}
        )
    try:
        params = check_params(template, values)
        choose_route(oa=oa, partner=partner, policy=settings.route_policy)
    except SendProblem as exc:
        raise OfferRefused(_("Not sent: %s") % exc.message) from exc
    try:
        sent = template_send(partner=partner, template=template, params=params, actor=actor)
    except TemplateSendRefused as exc:  # changed between the checks and the send
        raise OfferRefused(_("Not sent: %s") % exc.message) from exc
    return sent.message


PROVIDER = OfferProvider(name=NAME, offers=offers, send=send)
