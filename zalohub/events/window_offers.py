"""What an agent can still send once the customer's free reply window has closed (issue 19).

Another app offers ways to reach the customer (zbs: the OA's Approved templates, their
parameters filled from the customer) by registering a provider in its
``AppConfig.ready()``; the inbox's composer asks ``window_offers`` for them and sends the
one the agent chose through ``window_offer_send``, without importing that app. A
provider's send goes through its own service (zbs: ``template_send``, the one outbound
pipeline) and returns the outbound ``Message`` it stored; a send it refuses raises
``OfferRefused`` with a message for the agent, having queued nothing.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from zalohub.accounts.models import OfficialAccount
from zalohub.events.models import Message
from zalohub.partners.models import ZaloPartnerLink


@dataclass(frozen=True)
class OfferField:
    """One value the agent may edit before sending, filled from the customer if known."""

    name: str
    label: str
    value: str = ""
    max_length: int = 0  # 0: no limit the provider knows of
    required: bool = True


@dataclass(frozen=True)
class Offer:
    provider: str  # the registering provider's name
    key: str  # the provider's own id of the offer (a template's pk)
    title: str
    body: str  # the text, its fields written <name>
    fields: tuple[OfferField, ...] = ()
    note: str = ""  # e.g. the price Zalo charges


@dataclass(frozen=True)
class Offers:
    items: list[Offer] = field(default_factory=list)
    # Why a provider offers nothing, in the reader's language ("" when it has nothing to say).
    unavailable: list[str] = field(default_factory=list)


class OfferRefused(ValueError):
    """Not sent, nothing queued; ``message`` tells the agent why, in their language."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# offers(oa=, link=, user=) -> Offers
OffersFor = Callable[..., Offers]
# send(key=, oa=, link=, values=, actor=) -> the outbound Message stored
OfferSend = Callable[..., Message]


@dataclass(frozen=True)
class OfferProvider:
    name: str
    offers: OffersFor
    send: OfferSend


PROVIDERS: dict[str, OfferProvider] = {}


def register_window_offers(provider: OfferProvider) -> OfferProvider:
    """Offer ``provider``'s ways to reach a customer when the free window has closed."""
    PROVIDERS[provider.name] = provider
    return provider


def unregister_window_offers(name: str) -> None:
    PROVIDERS.pop(name, None)


def window_offers(*, oa: OfficialAccount, link: ZaloPartnerLink | None, user: Any) -> Offers:
    """Every registered provider's offers for this customer, in registration order."""
    items: list[Offer] = []
    unavailable: list[str] = []
    for provider in PROVIDERS.values():
        found = provider.offers(oa=oa, link=link, user=user)
        items.extend(found.items)
        unavailable.extend(found.unavailable)
    return Offers(items, unavailable)


def window_offer_send(
    *,
    provider: str,
    key: str,
    oa: OfficialAccount,
    link: ZaloPartnerLink | None,
    values: dict[str, str],
    actor: Any,
) -> Message:
    """Send the offer ``key`` of ``provider`` with the agent's ``values``."""
    chosen = PROVIDERS.get(provider)
    if chosen is None:
        raise OfferRefused(_("This way of reaching the customer is not available any more."))
    return chosen.send(key=key, oa=oa, link=link, values=values, actor=actor)
