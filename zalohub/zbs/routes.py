"""Before a template send: its parameters checked against the template, the message
rendered for the preview, and the route (UID or phone) chosen by the Route policy."""

import re
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_noop

from zalohub.accounts.models import OfficialAccount
from zalohub.core.stored_text import Reason, reason, text
from zalohub.events.models import ErrorCategory
from zalohub.partners.models import Partner, ZaloPartnerLink
from zalohub.partners.phones import InvalidPhone, is_blocked_phone, normalize_phone
from zalohub.zbs.lint import PLACEHOLDER, type_limit
from zalohub.zbs.models import RoutePolicy, Template

# The seed's own words for a partner Zalo cannot be reached by.
NO_VALID_PHONE = gettext_noop("no valid phone was found")
NO_LINK = gettext_noop("no Zalo link on this OA")


class SendProblem(ValueError):
    """A send that cannot go as asked; ``category`` is the Zalo Events error category."""

    def __init__(self, message: str | Reason, *, category: str = ErrorCategory.SEND) -> None:
        # ``reason`` is what is stored (read in each reader's language); ``message`` the
        # text for whoever asked, now.
        self.reason = message if isinstance(message, Reason) else text(message)
        self.message = str(self.reason)
        super().__init__(self.message)
        self.category = category


def check_params(template: Template, params: dict[str, Any]) -> dict[str, str]:
    """The values to send, as strings; every problem at once in one SendProblem."""
    problems: list[Reason] = []
    values: dict[str, str] = {}
    declared = {str(p.get("name")) for p in template.params}
    for name in sorted(set(params) - declared):
        problems.append(reason(gettext_noop("“%s” is not a parameter of this template."), name))
    for param in template.params:
        name = str(param.get("name"))
        value = params.get(name)
        text = "" if value is None else str(value).strip()
        if not text:
            if param.get("require", True):
                problems.append(reason(gettext_noop("The parameter “%s” is missing."), name))
            continue
        limit = int(param.get("max_length") or type_limit(param))
        if len(text) > limit:
            problems.append(
                reason(
                    gettext_noop(
                        "“%(name)s” is %(n)d characters long; this template takes at most %(max)d."
                    ),
                    name=name,
                    n=len(text),
                    max=limit,
                )
            )
        if len(text) < int(param.get("min_length") or 0):
            problems.append(reason(gettext_noop("“%s” is too short."), name))
        if (param.get("number") or int(param.get("type") or 0) in (10, 14)) and not re.fullmatch(
            r"[\d.,]+", text
        ):
            problems.append(reason(gettext_noop("“%s” must be a number."), name))
        values[name] = text
    if problems:
        # Every problem, each in the reader's language, one after the other.
        raise SendProblem(reason(" ".join(["%s"] * len(problems)), *problems))
    return values


def render(template: Template, values: dict[str, str]) -> str:
    """The message as the customer will read it (the content with its values filled in)."""
    if not template.body:
        return "\n".join(f"{k}: {v}" for k, v in values.items())
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template.body)


@dataclass(frozen=True)
class Route:
    route: str  # RoutePolicy.UID or RoutePolicy.PHONE: what is tried first
    user_id: str  # the partner's UID on this OA ("" when it has none)
    phone: str  # a valid 84xxxxxxxxx ("" when none)
    link: ZaloPartnerLink | None

    @property
    def can_fall_back(self) -> bool:
        return self.route == RoutePolicy.UID and bool(self.phone)


def partner_phone(partner: Partner, override: str = "") -> tuple[str, Reason | None]:
    """(a usable phone, why none was usable): verified numbers first, newest first."""
    candidates = (
        [override]
        if override
        else [p.number for p in partner.phones.order_by("-verified", "-created_at", "-id")]
    )
    why: Reason | None = None
    for raw in candidates:
        try:
            number = normalize_phone(raw)
        except InvalidPhone as exc:
            why = reason(
                gettext_noop("%(phone)s is not a valid Vietnamese number (%(reason)s)"),
                phone=raw,
                reason=exc,
            )
            continue
        if is_blocked_phone(number):
            why = reason(gettext_noop("%s is a placeholder or test number"), number)
            continue
        return number, None
    return "", why


def choose_route(*, oa: OfficialAccount, partner: Partner, policy: str, phone: str = "") -> Route:
    """The route the policy gives for this partner; SendProblem (recipient) if none."""
    link = (
        ZaloPartnerLink.objects.filter(oa=oa, partner=partner.resolved())
        .order_by("is_shadow", "-last_interaction_at", "id")
        .first()
    )
    user_id = link.zalo_user_id if link else ""
    number, why = ("", None) if policy == RoutePolicy.UID else partner_phone(partner, phone)
    if policy == RoutePolicy.UID:
        if not user_id:
            raise SendProblem(reason(NO_LINK), category=ErrorCategory.RECIPIENT)
        return Route(RoutePolicy.UID, user_id, "", link)
    if policy == RoutePolicy.UID_PHONE and user_id:
        return Route(RoutePolicy.UID, user_id, number, link)
    if not number:
        found = reason(NO_VALID_PHONE)
        if why is not None:
            found = reason("%s (%s)", found, why)
        raise SendProblem(found, category=ErrorCategory.RECIPIENT)
    return Route(RoutePolicy.PHONE, user_id, number, link)
