"""zalo.codes is the one table of Zalo's error codes; zalo.errors reads it."""

from zalohub.events.models import ErrorCategory
from zalohub.zalo import errors
from zalohub.zalo.codes import CODES, ErrorKind


def test_every_code_has_a_kind_and_a_category_the_hub_stores():
    stored = {c.value for c in ErrorCategory}
    for code, entry in CODES.items():
        # It should give each code a kind, and a category the hub knows.
        assert errors.classify(code) is entry.kind
        assert errors.category(code) in stored, code
        # It should file an authorization failure under the token, whatever its code.
        if entry.kind is ErrorKind.AUTH:
            assert errors.category(code) == ErrorCategory.TOKEN
    # It should read categories, explanations and steps from the same rows.
    assert errors.category(-118) == ErrorCategory.RECIPIENT
    assert errors.category(-147) == ErrorCategory.TEMPLATE
    assert errors.category(-141) == ErrorCategory.SEND
    assert errors.explain(-230) == str(CODES[-230].explanation)
    assert errors.NEXT_STEPS[-144] == CODES[-144].next_step
    # It should fall back on the kind for a code it does not list, or none.
    assert errors.category(None, http_status=401) == ErrorCategory.TOKEN
    assert errors.category(-99999) == ErrorCategory.SEND
