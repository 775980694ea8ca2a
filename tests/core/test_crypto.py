"""Secrets at rest: nothing readable in the database, nothing lost to a wrong key."""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.core.crypto import SecretUnavailable, UnreadableSecret, reveal

pytestmark = pytest.mark.django_db


def _raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def _dump() -> str:
    out = io.StringIO()
    call_command("dumpdata", "accounts", stdout=out)
    with connection.cursor() as cursor:
        for table in ("accounts_zaloapp", "accounts_officialaccount", "accounts_oauthsession"):
            cursor.execute(f"SELECT * FROM {table}")
            out.write(repr(cursor.fetchall()))
    return out.getvalue()


def test_it_keeps_no_secret_in_plaintext():
    app = ZaloApp.objects.create(
        name="A", app_id="1", secret_key="app-secret-XYZ", oa_secret_key="oa-secret-XYZ"
    )
    oa = OfficialAccount.objects.create(
        app=app, name="OA", access_token="access-XYZ-123", refresh_token="refresh-XYZ-456"
    )
    # It should store ciphertext in the columns and in any dump of the database.
    assert _raw("accounts_zaloapp", "secret_key", app.pk).startswith("gAAAA")
    dump = _dump()
    for secret in ("app-secret-XYZ", "oa-secret-XYZ", "access-XYZ-123", "refresh-XYZ-456"):
        assert secret not in dump
    # It should hand the plaintext back to code that reads the row.
    oa = OfficialAccount.objects.get(pk=oa.pk)
    assert oa.access_token == "access-XYZ-123"
    assert ZaloApp.objects.get(pk=app.pk).secret_key == "app-secret-XYZ"


def test_it_keeps_what_a_wrong_key_cannot_read(settings):
    app = ZaloApp.objects.create(name="A", app_id="1", secret_key="app-secret")
    stored = _raw("accounts_zaloapp", "secret_key", app.pk)
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    app = ZaloApp.objects.get(pk=app.pk)
    # It should say the secret is unreadable instead of failing the page or query.
    assert isinstance(app.secret_key, UnreadableSecret)
    with pytest.raises(SecretUnavailable, match="encryption keys"):
        reveal(app.secret_key, what="app secret key")
    # It should write the ciphertext back unchanged when the row is saved.
    app.name = "renamed"
    app.save()
    assert _raw("accounts_zaloapp", "secret_key", app.pk) == stored


def test_it_rotates_to_a_new_key(settings):
    old = settings.ENCRYPTION_KEYS[0]
    app = ZaloApp.objects.create(name="A", app_id="1", secret_key="app-secret")
    new = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [new, old]
    call_command("rotate_keys", stdout=io.StringIO())
    # It should leave the value readable with the new key alone.
    settings.ENCRYPTION_KEYS = [new]
    assert ZaloApp.objects.get(pk=app.pk).secret_key == "app-secret"
