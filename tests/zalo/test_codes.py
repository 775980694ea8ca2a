"""zalo.codes is the one table of Zalo's error codes; zalo.errors reads it."""

import os
import subprocess
import sys

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


def test_the_wire_imports_without_settings_or_an_active_language():
    # It should read its tables at import without translating them (no settings yet, as
    # in the bench's row builder), and import nothing of the hub's.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = (
        "import sys, zalohub.zalo.errors, zalohub.zalo.webhook, zalohub.zalo.bodies;"
        "print(sorted(m for m in sys.modules if m.startswith('zalohub.')"
        " and not m.startswith('zalohub.zalo')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
