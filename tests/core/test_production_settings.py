"""Keys, HTTPS and `check --deploy`: the hub in fresh processes with a clean environment,
as an operator starts it (nothing inherited from the test run)."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import run_checks

PG_URL = "postgres://hub:secret@127.0.0.1:5432/zalohub"


def _hub(args: list[str], env: dict[str, str], home: Path) -> subprocess.CompletedProcess:
    """Run `python <args>` in a fresh process, with only ``env`` and a 022 umask."""
    clean = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "DJANGO_SETTINGS_MODULE": "zalohub.settings",
        "ZALOHUB_DATA_DIR": str(home / "data"),
        **env,
    }
    return subprocess.run(
        ["/bin/sh", "-c", 'umask 022 && exec "$0" "$@"', sys.executable, *args],
        env=clean,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _production(**extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": PG_URL,
        "ZALOHUB_SECRET_KEY": "x" * 20 + Fernet.generate_key().decode(),
        "ZALOHUB_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ZALOHUB_PUBLIC_URL": "https://hub.example.com",
        "ZALOHUB_ALLOWED_HOSTS": "hub.example.com",
        "ZALOHUB_CSRF_TRUSTED_ORIGINS": "https://hub.example.com",
        "ZALOHUB_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto=https",
        "ZALOHUB_EMAIL_HOST": "smtp.example.com",
        "ZALOHUB_REDIS_URL": "redis://127.0.0.1:6379/0",
        "WEB_CONCURRENCY": "4",
        "ZALO_MODE": "live",
        **extra,
    }


SETUP = "import django; django.setup(); print('started')"


@pytest.mark.parametrize(
    "env",
    [
        {"DATABASE_URL": PG_URL, "ZALOHUB_DEBUG": "1"},  # PostgreSQL: maybe several hosts
        {},  # SQLite with DEBUG off: a production install
        {"DATABASE_URL": PG_URL, "ZALOHUB_ENCRYPTION_KEYS": " , "},  # set, but empty
    ],
    ids=["postgresql", "debug-off", "empty"],
)
def test_it_refuses_to_start_without_keys_outside_the_embedded_shape(env, tmp_path):
    done = _hub(["-c", SETUP], env, tmp_path)
    # It should stop, naming the variable to set, and generate no key of its own.
    assert done.returncode != 0
    assert "ZALOHUB_ENCRYPTION_KEYS is not set" in done.stderr
    assert not (tmp_path / "data" / "encryption.key").exists()


def test_the_zalohub_command_says_which_variable_in_one_line(tmp_path):
    zalohub = str(Path(sys.executable).parent / "zalohub")  # the console script
    for command in ("check", "worker"):
        done = _hub([zalohub, command], {}, tmp_path)
        # It should stop with a status, and one line naming the variable, no traceback.
        assert done.returncode == 2
        assert done.stderr.startswith("zalohub: ZALOHUB_ENCRYPTION_KEYS is not set")
        assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_the_embedded_shape_keeps_its_keys_and_database_owner_only(tmp_path):
    # The modes are read while the connection is open: SQLite removes its WAL files
    # when the last connection closes.
    code = (
        "import django, os, stat; django.setup()\n"
        "from django.conf import settings\n"
        "from django.db import connection\n"
        "with connection.cursor() as c: c.execute('CREATE TABLE t (x int)')\n"
        "for name in sorted(os.listdir(settings.DATA_DIR)):\n"
        "    print(name, oct(stat.S_IMODE(os.stat(settings.DATA_DIR / name).st_mode)))\n"
    )
    done = _hub(["-c", code], {"ZALOHUB_DEBUG": "1"}, tmp_path)
    assert done.returncode == 0, done.stderr
    # It should create the data directory for its owner only, and every file in it
    # (generated keys, the database and SQLite's WAL files) likewise.
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    modes = dict(line.split() for line in done.stdout.splitlines())
    assert modes == {
        "django-secret.key": "0o600",
        "encryption.key": "0o600",
        "zalohub.sqlite3": "0o600",
        "zalohub.sqlite3-shm": "0o600",
        "zalohub.sqlite3-wal": "0o600",
    }


def test_a_database_file_named_by_url_is_owner_only_too(tmp_path):
    url = f"sqlite:///{tmp_path}/elsewhere/hub.sqlite3"
    keys = Fernet.generate_key().decode()
    env = {"DATABASE_URL": url, "ZALOHUB_ENCRYPTION_KEYS": keys, "ZALOHUB_SECRET_KEY": "s" * 60}
    done = _hub(["-c", SETUP], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((tmp_path / "elsewhere").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "elsewhere" / "hub.sqlite3").stat().st_mode) == 0o600


def test_check_deploy_passes_with_production_variables(tmp_path):
    done = _hub(
        ["-m", "django", "check", "--deploy", "--fail-level", "WARNING"], _production(), tmp_path
    )
    # It should find no error and no warning (not even an info) in a production setup.
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_https_settings_follow_the_public_url(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings as s\n"
        "print(s.SECURE_PROXY_SSL_HEADER, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS,"
        " s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)\n"
    )
    done = _hub(["-c", code], _production(), tmp_path)
    assert done.stdout.split() == [
        "('HTTP_X_FORWARDED_PROTO',",
        "'https')",
        "True",
        "31536000",
        "True",
        "True",
    ], done.stderr
    # It should leave them off for a plain-HTTP hub (the demo), and let each be turned off.
    plain = _production(
        ZALOHUB_PUBLIC_URL="http://10.0.0.5:8000", ZALOHUB_SECURE_PROXY_SSL_HEADER=""
    )
    done = _hub(["-c", code], plain, tmp_path)
    assert done.stdout.split() == ["None", "False", "0", "False", "False"], done.stderr
    done = _hub(["-c", code], _production(ZALOHUB_SECURE_SSL_REDIRECT="0"), tmp_path)
    assert done.stdout.split()[2] == "False", done.stderr
    # It should refuse a proxy header it cannot read, naming the variable.
    done = _hub(["-c", code], _production(ZALOHUB_SECURE_PROXY_SSL_HEADER="https"), tmp_path)
    assert done.returncode != 0 and "ZALOHUB_SECURE_PROXY_SSL_HEADER" in done.stderr


def test_check_deploy_names_a_hub_zalo_cannot_reach(tmp_path):
    env = _production(
        ZALOHUB_PUBLIC_URL="http://127.0.0.1:8000",
        ZALOHUB_REDIS_URL="",
        ZALOHUB_EMAIL_HOST="",
    )
    done = _hub(["-m", "django", "check", "--deploy"], env, tmp_path)
    output = done.stdout + done.stderr
    # It should name each problem by its id: live mode on loopback, 4 web processes and
    # no Redis, no mail server; an unset mail server is an info, not Django's error.
    assert done.returncode != 0
    assert "zalohub.E001" in output and "zalohub.W002" in output
    assert "zalohub.I005" in output and "mail.E001" not in output


# --- each custom check, in this process ----------------------------------------------
def _ids() -> set[str]:
    return {m.id for m in run_checks(include_deployment_checks=True, tags=["zalohub"])}


def test_it_flags_live_mode_on_a_loopback_public_url(settings):
    settings.ZALO_MODE = "live"
    for url in ("http://127.0.0.1:8000", "http://localhost:8000", "https://[::1]"):
        settings.PUBLIC_URL = url
        assert "zalohub.E001" in _ids(), url
    settings.PUBLIC_URL = "https://hub.example.com"
    assert "zalohub.E001" not in _ids()
    # It should not mind a loopback hub talking to the sandbox (the demo, the tests).
    settings.ZALO_MODE, settings.PUBLIC_URL = "sandbox", "http://127.0.0.1:8000"
    assert "zalohub.E001" not in _ids()


def test_it_flags_several_web_processes_without_redis(settings):
    settings.WEB_PROCESSES, settings.REDIS_URL = 4, ""
    assert "zalohub.W002" in _ids()
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    assert "zalohub.W002" not in _ids()
    settings.WEB_PROCESSES, settings.REDIS_URL = 1, ""
    assert "zalohub.W002" not in _ids()


def test_it_flags_generated_keys(settings):
    settings.ENCRYPTION_KEYS_GENERATED, settings.SECRET_KEY_GENERATED = True, False
    assert {"zalohub.E003"} <= _ids() and "zalohub.W004" not in _ids()
    settings.ENCRYPTION_KEYS_GENERATED, settings.SECRET_KEY_GENERATED = False, True
    assert "zalohub.W004" in _ids() and "zalohub.E003" not in _ids()


def test_it_says_when_alerts_are_not_mailed(settings):
    settings.MAILERS = {"default": {"BACKEND": "zalohub.core.mail.LogOnlyEmailBackend"}}
    assert "zalohub.I005" in _ids()
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend"}}
    assert "zalohub.I005" not in _ids()
