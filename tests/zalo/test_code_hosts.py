"""A code two hosts give different meanings is read by the host that answered it
(API.md: -100 is an expired upload on the OA host, an unknown error on the ZBS one)."""

import pytest
from django.utils import translation

from tests.core.test_translations import LOCALE, _entries
from zalohub.core.stored_text import Reason, zalo_reason
from zalohub.events.models import ErrorCategory
from zalohub.zalo import errors
from zalohub.zalo.codes import EITHER_HOST, HOSTS, ErrorKind, host_of, lookup

EXPIRED = "The uploaded image or file has expired"
UNKNOWN = "Zalo's template host reported an unknown error"


@pytest.mark.parametrize(
    ("endpoint", "host"),
    [
        ("oa.message.cs", "oa"),
        ("oa.message.template", "oa"),  # a template by UID goes to the OA host
        ("zns.message.template", "zns"),
        ("oauth.access_token.refresh", "oauth"),
        ("", ""),
        ("sandbox.state", ""),
    ],
)
def test_it_tells_the_host_by_the_endpoints_name(endpoint, host):
    assert host_of(endpoint) == host


def test_minus_100_has_a_kind_a_category_and_a_sentence_per_host():
    # It should give up on the OA host (the same expired upload fails again) and retry on
    # the business host (an unknown error), each filed as a send failure.
    assert errors.classify(-100, host="oa") is ErrorKind.PERMANENT
    assert errors.classify(-100, host="zns") is ErrorKind.RETRYABLE
    assert errors.category(-100, host="oa") == errors.category(-100, host="zns")
    assert errors.category(-100, host="oa") == ErrorCategory.SEND
    assert errors.explain(-100, host="oa").startswith(EXPIRED)
    assert errors.explain(-100, host="zns").startswith(UNKNOWN)
    # Without the host (a code stored alone) it says what either may mean, as before.
    assert lookup(-100) is EITHER_HOST[-100]
    assert "unknown error, or an uploaded file has expired" in errors.explain(-100)
    # A code one host lists reads the same with any host.
    assert errors.explain(-230, host="zns") == errors.explain(-230)


def test_a_zalo_error_reads_its_code_by_the_host_it_came_from():
    oa = errors.ZaloError("attachment_id was expired", code=-100, endpoint="oa.message.cs")
    zns = errors.ZaloError("Unknown error", code=-100, endpoint="zns.message.template")
    assert (oa.host, oa.kind) == ("oa", ErrorKind.PERMANENT)
    assert (zns.host, zns.kind) == ("zns", ErrorKind.RETRYABLE)
    # It should keep the host with the stored reason, and explain it by that host in
    # each reader's language.
    stored = zalo_reason(zns).as_json()
    assert stored["h"] == "zns"
    again = Reason.from_json(stored)
    assert again.english().startswith(f"Zalo error -100: {UNKNOWN}")
    with translation.override("vi"):
        assert "Máy chủ mẫu tin của Zalo báo lỗi không xác định" in again.render()
        assert "hết hạn" in Reason.from_json(zalo_reason(oa).as_json()).render()


def test_every_host_entry_is_in_vietnamese_too():
    catalogue = _entries((LOCALE / "django.po").read_text())
    for host, table in HOSTS.items():
        for code, entry in table.items():
            for text in (entry.explanation, entry.next_step):
                if text is None:
                    continue
                with translation.override("en"):
                    english = str(text)
                vietnamese, fuzzy = catalogue.get(english, ("", False))
                assert vietnamese and not fuzzy and vietnamese != english, (host, code)
