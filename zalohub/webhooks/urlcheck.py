"""The subscription URL check: only http(s); in live mode no loopback, link-local,
private or otherwise non-public address (SSRF) unless an admin allows it for the
subscription. The sandbox mode (the demo, development) allows loopback.

The check runs when a subscription is saved and again before each delivery batch (the
name may resolve elsewhere by then)."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise ValidationError(
            _("The host %(host)s cannot be resolved."), params={"host": host}
        ) from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def _private(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return not address.is_global or address.is_multicast


def check_url(url: str, *, allow_private: bool = False) -> None:
    """Raise ValidationError (a sentence for the admin) if the hub must not call ``url``."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise ValidationError(_("Only http:// and https:// URLs can receive webhooks."))
    host = parts.hostname
    if not host:
        raise ValidationError(_("The URL has no host."))
    if allow_private:
        return
    addresses = _addresses(host)
    if settings.ZALO_MODE != "live" and all(a.is_loopback for a in addresses):
        return  # the sandbox and the demo deliver to receivers on this machine
    for address in addresses:
        if _private(address):
            raise ValidationError(
                _(
                    "%(host)s is a loopback, link-local or private address (%(address)s): "
                    "refused unless an admin allows private addresses for this subscription."
                ),
                params={"host": host, "address": str(address)},
            )
