"""Every code of API.md's error tables has a kind, a category and a sentence, in English
and in Vietnamese (issue 16 §7), and the sandbox can answer each with Zalo's message."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from tests.core.test_translations import LOCALE, _entries
from zalohub.events.models import ErrorCategory
from zalohub.sandbox.error_texts import OA_MESSAGES, ZNS_MESSAGES
from zalohub.zalo import errors
from zalohub.zalo.codes import CODES, ErrorKind
from zalohub.zalo.codes.base import Code
from zalohub.zalo.codes.oa import OA_CODES
from zalohub.zalo.codes.zns import ZNS_CODES

# API.md §2.5 (the OA API's table), written out here so that a clone without the shared
# notes still checks them; test_the_lists_are_api_mds_tables compares them when it can.
OA_TABLE = [
    -32, -100, -200, -201, -204, -205, -209, -210, -211, -212, -213, -214, -216, -217,
    -218, -219, -220, -221, -223, -224, -227, -230, -232, -233, -234, -235, -237, -238,
    -240, -241, -242, -244, -248, -249, -320, -321, -403, -1340, -1341,
]  # fmt: skip
OA_OLDER = [-202, -207, -208, -215, -222, -305, -311]  # §2.5's "older codes"
# API.md §4.5 (ZBS/ZNS).
ZNS_TABLE = [
    -100, -101, -102, -103, -104, -105, -106, -107, -108, -109, -1091, -110, -111, -112,
    -1121, -1122, -1123, -1124, -113, -1131, -1132, -114, -115, -116, -117, -118, -119,
    -120, -1201, -1202, -121, -122, -123, -124, -1241, -125, -126, -127, -128, -129, -130,
    -131, -132, -133, -134, -135, -1351, -136, -137, -138, -1381, -139, -140, -141, -142,
    -143, -144, -1441, -145, -146, -147, -1471, -1472, -148, -149, -1491, -150, -151, -152,
    -153, -158, -159, -160, -161, -162,
]  # fmt: skip
OAUTH_TABLE = [-14002, -14003, -14004, -14005, -14014, -14018]  # §1.6
EVERY_CODE = sorted({*OA_TABLE, *OA_OLDER, *ZNS_TABLE, *OAUTH_TABLE})
API_MD = Path(settings.BASE_DIR).parent / "shared" / "zalo" / "API.md"


def _table_codes(text: str, start: str, end: str) -> set[int]:
    section = text[text.index(start) : text.index(end, text.index(start))]
    found: set[int] = set()
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| Code"):
            found.update(int(c) for c in re.findall(r"-\d+", line.split("|")[1]))
    return found


@pytest.mark.skipif(not API_MD.exists(), reason="the shared notes are not beside this clone")
def test_the_lists_are_api_mds_tables():
    text = API_MD.read_text()
    # It should list exactly the codes of API.md's two tables.
    assert _table_codes(text, "### 2.5 OA error codes", "**CONFLICT on -216") == set(OA_TABLE)
    assert _table_codes(text, "### 4.5 ZNS/ZBS error codes", "Real bodies:") == set(ZNS_TABLE)


@pytest.mark.parametrize("code", EVERY_CODE)
def test_every_code_has_a_kind_a_category_and_a_sentence(code):
    entry: Code = CODES[code]
    stored = {c.value for c in ErrorCategory}
    # It should say what the caller does, where the failure is filed, and what it means.
    assert isinstance(entry.kind, ErrorKind)
    assert errors.category(code) in stored
    assert entry.explanation is not None
    assert errors.explain(code) == str(entry.explanation)


def test_every_sentence_is_in_vietnamese_too():
    catalogue = _entries((LOCALE / "django.po").read_text())
    for code in EVERY_CODE:
        entry = CODES[code]
        for text in (entry.explanation, entry.next_step):
            if text is None:
                continue
            with translation.override("en"):
                english = str(text)
            # It should have a Vietnamese sentence for it in the catalogue.
            vietnamese, fuzzy = catalogue.get(english, ("", False))
            assert vietnamese and not fuzzy, (code, english)
            assert vietnamese != english, (code, english)


def test_the_tables_are_per_host_and_share_only_minus_100():
    # It should keep the OA table and the business host's apart: -100 is both hosts',
    # each with its own meaning (API.md §2.5 and §4.5).
    assert set(OA_CODES) & set(ZNS_CODES) == {-100}
    assert -100 in OA_TABLE and -100 in ZNS_TABLE
    assert OA_CODES[-100] != ZNS_CODES[-100]


def test_the_sandbox_answers_every_code_with_a_message():
    # It should have a message for each code of API.md's tables, as Zalo answers them.
    assert set(OA_TABLE) | {-305, -311} <= set(OA_MESSAGES)
    assert set(ZNS_TABLE) <= set(ZNS_MESSAGES)
    assert OA_MESSAGES[-227] == "User is banned or has been inactive for more than 45 days"
    assert all(text.strip() for text in [*OA_MESSAGES.values(), *ZNS_MESSAGES.values()])


def test_minus_227_holds_the_oa_and_has_its_own_step():
    # It should hold the OA's sends on -227 alone, with a next step of its own.
    assert frozenset({-227}) == errors.HOLDS_OA
    assert errors.NEXT_STEPS[-227]
    assert errors.category(-227) == ErrorCategory.SEND
