"""What the hub writes to its log for requests refused as the client's fault."""

import logging
import os
import subprocess
import sys

import pytest


def _console() -> logging.Handler:
    """The handler settings.LOGGING gives the root logger (what an operator reads)."""
    return next(h for h in logging.getLogger().handlers if h.get_name() == "console")


def _written(record: logging.LogRecord) -> str:
    handler = _console()
    assert handler.filter(record)
    return handler.format(record)


@pytest.mark.django_db
def test_a_forbidden_page_is_one_line(client, outsider, caplog):
    client.force_login(outsider)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/admin/accounts/zaloapp/")
    assert response.status_code == 403
    [record] = [r for r in caplog.records if r.name == "django.request"]
    # It should say what was refused, in one line, without Django's traceback.
    assert record.exc_info is None
    line = _written(record)
    assert "Forbidden (Permission denied): /admin/accounts/zaloapp/" in line
    assert "\n" not in line and "Traceback" not in line


@pytest.mark.django_db
def test_a_bad_host_header_is_one_line(client, caplog):
    with caplog.at_level(logging.ERROR, logger="django.security"):
        response = client.get("/admin/", headers={"host": "evil.example.com"})
    assert response.status_code == 400
    [record] = [r for r in caplog.records if r.name == "django.security.DisallowedHost"]
    line = _written(record)
    assert "Invalid HTTP_HOST header: 'evil.example.com'" in line
    assert "\n" not in line and "Traceback" not in line


def test_a_server_error_keeps_its_traceback():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.getLogger("django.request").makeRecord(
            "django.request",
            logging.ERROR,
            __file__,
            1,
            "Internal Server Error: %s",
            ("/x/",),
            exc_info=sys.exc_info(),
            extra={"status_code": 500},
        )
    # It should keep what a 5xx needs to be fixed.
    assert "Traceback" in _written(record) and "RuntimeError: boom" in _written(record)


def test_under_debug_each_line_is_written_once(tmp_path):
    # The demo runs with DEBUG on, where Django adds a console handler of its own.
    code = (
        "import django, logging; django.setup()\n"
        "try:\n"
        "    raise PermissionError('refused')\n"
        "except PermissionError:\n"
        "    logging.getLogger('django.security.DisallowedHost').error(\n"
        "        'Invalid HTTP_HOST header', exc_info=True, extra={'status_code': 400})\n"
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "zalohub.settings",
        "ZALOHUB_DATA_DIR": str(tmp_path / "data"),
        "ZALOHUB_DEBUG": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    # It should write the line once, through the hub's handler, without the traceback.
    [line] = done.stderr.splitlines()
    assert line.endswith("ERROR django.security.DisallowedHost: Invalid HTTP_HOST header")


def test_a_call_to_zalo_writes_no_httpx_line(sandbox_server, caplog):
    import httpx

    with caplog.at_level(logging.INFO):
        answer = httpx.get(f"{sandbox_server.base_url}/oauth/")
    assert answer.status_code < 600
    # It should not write httpx's line per request at INFO (a line per webhook delivery
    # and per Zalo call): the API logs and delivery logs keep them, redacted.
    assert [r.getMessage() for r in caplog.records if r.name == "httpx"] == []
