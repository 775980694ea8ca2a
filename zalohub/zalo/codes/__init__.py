"""Zalo's error codes, one table: for each code its kind (what the caller does: retry,
refresh, wait, give up), its category (which of the troubleshooting guide's five it
falls in), what it means and, where a code deserves one, the next step. Diagnostics,
sends and ZBS all read this table (through ``zalo.errors``); nothing else lists codes.

One module per host, as API.md lists them: the OA API (``oa``), the business host of
ZBS templates (``zns``), the OAuth token endpoint (``oauth``). Every code of API.md's
tables is here with a sentence in both languages (``tests/zalo/test_code_table.py``).
"""

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

CODES: dict[int, Code] = {**OA_CODES, **ZNS_CODES, **OAUTH_CODES}
assert len(CODES) == len(OA_CODES) + len(ZNS_CODES) + len(OAUTH_CODES), "a code listed twice"

__all__ = ["CODES", "RECIPIENT", "SEND", "TEMPLATE", "TOKEN", "Code", "ErrorKind"]
