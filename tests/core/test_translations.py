"""The Vietnamese catalogue is complete, current, and compiled."""

import gettext
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "zalohub" / "locale" / "vi" / "LC_MESSAGES"


def _entries(po_text: str) -> dict[str, tuple[str, bool]]:
    """msgid -> (msgstr, fuzzy) for a .po file (context ignored; for a plural entry the
    singular msgid and msgstr[0])."""
    entries: dict[str, tuple[str, bool]] = {}
    for block in po_text.split("\n\n"):
        if "msgid" not in block or block.lstrip().startswith("#~"):
            continue
        fuzzy = "#, fuzzy" in block or ", fuzzy" in block
        singular = block.split("msgstr")[0].split("msgid_plural")[0]
        msgid = "".join(re.findall(r'^(?:msgid)? ?"(.*)"$', singular, re.M))
        strs = re.findall(r'msgstr(?:\[\d\])? ((?:".*"\n?)+)', block + "\n")
        msgstr = "".join(re.findall(r'"(.*)"', strs[0])) if strs else ""
        if msgid:
            entries[msgid] = (msgstr, fuzzy)
    return entries


def test_every_string_has_a_vietnamese_translation():
    entries = _entries((LOCALE / "django.po").read_text())
    assert len(entries) > 50
    missing = [m for m, (s, fuzzy) in entries.items() if not s or fuzzy]
    assert missing == []


def test_the_compiled_catalogue_matches_the_source():
    catalogue = gettext.GNUTranslations((LOCALE / "django.mo").open("rb"))
    po = (LOCALE / "django.po").read_text()
    plurals = set(re.findall(r'^msgid "(.*)"\nmsgid_plural', po, re.M))
    for msgid, (msgstr, _fuzzy) in _entries(po).items():
        if "%(" in msgid or "\\" in msgid:
            continue  # escapes are compared by msgfmt itself
        if msgid in plurals:
            # Vietnamese has one plural form: every count reads msgstr[0].
            assert catalogue.ngettext(msgid, msgid + "s", 5) == msgstr, msgid
            continue
        assert catalogue.gettext(msgid) == msgstr, msgid


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed")
def test_the_catalogue_holds_every_string_in_the_code(tmp_path):
    po = LOCALE / "django.po"
    before = po.read_text()
    try:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "django",
                "makemessages",
                "-l",
                "vi",
                "--no-obsolete",
                "--no-location",
                "--ignore=.venv",
                "--ignore=tests",
                "--ignore=bench",
                "--ignore=test-output",
                "--ignore=var",
            ],
            cwd=settings.BASE_DIR,
            check=True,
            capture_output=True,
        )
        after = po.read_text()
    finally:
        po.write_text(before)
    new = set(_entries(after)) - set(_entries(before))
    assert new == set(), f"strings missing from the vi catalogue: {sorted(new)[:20]}"
