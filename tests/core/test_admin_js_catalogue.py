"""The admin's scripts speak Vietnamese too: the two-box picker (a group's permissions, a
webhook subscription's OAs), the calendar and the clock read their words from the
admin's JavaScript catalogue, where Django's Vietnamese lacks Django 6's strings."""

import json
import re
from pathlib import Path

import django
import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

DJANGO_JS = Path(django.__file__).parent / "contrib/admin/locale/en/LC_MESSAGES/djangojs.po"


def _msgids() -> list[str]:
    """Each msgid of Django's admin scripts, as the catalogue keys it ("ctx\\x04id")."""
    keys = []
    for block in DJANGO_JS.read_text().split("\n\n"):
        lines = "\n".join(line for line in block.splitlines() if not line.startswith("#"))
        ctx = re.search(r'^msgctxt ((?:".*"\n?)+)', lines, re.M)
        msgid = re.search(r'^msgid ((?:".*"\n?)+)', lines + "\n", re.M)
        text = "".join(re.findall(r'"(.*)"', msgid.group(1))) if msgid else ""
        if text:
            text = text.replace('\\"', '"')
            context = "".join(re.findall(r'"(.*)"', ctx.group(1))) if ctx else ""
            keys.append(f"{context}\x04{text}" if context else text)
    return keys


def test_every_string_of_the_admins_scripts_reads_in_vietnamese(admin):
    client = Client(headers={"accept-language": "vi"})
    client.force_login(admin)
    script = client.get("/admin/jsi18n/").content.decode()
    catalog = json.loads(re.search(r"const newcatalog = (\{.*?\});", script, re.S).group(1))
    ids = _msgids()
    assert len(ids) > 40
    # It should translate every one of them (the picker said "Choose all Official
    # Account" on a Vietnamese page), each into something other than the English.
    missing = [key for key in ids if not catalog.get(key) or catalog[key] == key]
    assert missing == []
    assert catalog["Choose all %s"] == "Chọn tất cả %s"
