"""Zalo's error codes, one table: for each code its kind (what the caller does: retry,
refresh, wait, give up), its category (which of the troubleshooting guide's five it
falls in), what it means and, where a code deserves one, the next step. Diagnostics,
sends and ZBS all read this table (through ``zalo.errors``); nothing else lists codes.

One module per host, as API.md lists them: the OA API (``oa``), the business host of
ZBS templates (``zns``), the OAuth token endpoint (``oauth``). Every code of API.md's
tables is here with a sentence in both languages (``tests/zalo/test_code_table.py``).
A code two hosts give different meanings (-100) is read by the host the call went to
(``lookup``), and where that is not known (a failure code stored alone) as either.
"""

from django.utils.translation import gettext_lazy as _

from zalohub.zalo.codes.base import (
    RECIPIENT,
    SEND,
    TEMPLATE,
    TOKEN,
    Code,
    ErrorKind,
)
from zalohub.zalo.codes.oa import OA_CODES
from zalohub.zalo.codes.oauth import OAUTH_CODES
from zalohub.zalo.codes.zns import ZNS_CODES

# By the first segment of an endpoint's name (``oa.message.cs``, ``zns.message.template``).
HOSTS: dict[str, dict[int, Code]] = {"oa": OA_CODES, "zns": ZNS_CODES, "oauth": OAUTH_CODES}
# Codes of two hosts, as read without the host: what either may mean.
EITHER_HOST: dict[int, Code] = {
    -100: Code(
        ErrorKind.RETRYABLE,
        explanation=_(
            "Zalo reported an unknown error, or an uploaded file has expired (Zalo keeps "
            "uploads 7 days): the call is retried."
        ),
    ),
}
_tables = list(HOSTS.values())
_shared = {c for i, t in enumerate(_tables) for u in _tables[i + 1 :] for c in t.keys() & u}
assert _shared == EITHER_HOST.keys(), "a code two hosts list needs its reading without a host"
CODES: dict[int, Code] = {**OA_CODES, **ZNS_CODES, **OAUTH_CODES, **EITHER_HOST}


def host_of(endpoint: str) -> str:
    """The host a call went to, by its endpoint's name; "" when the name says none."""
    host = endpoint.split(".", 1)[0]
    return host if host in HOSTS else ""


def lookup(code: int, host: str = "") -> Code | None:
    """The code's entry on ``host`` ("oa", "zns", "oauth"), else the one of the table
    without hosts (``CODES``); None for a code Zalo never documented."""
    return HOSTS.get(host, {}).get(code) or CODES.get(code)


__all__ = [
    "CODES",
    "EITHER_HOST",
    "HOSTS",
    "RECIPIENT",
    "SEND",
    "TEMPLATE",
    "TOKEN",
    "Code",
    "ErrorKind",
    "host_of",
    "lookup",
]
