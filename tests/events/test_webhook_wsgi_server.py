"""The webhook behind a real server: uvicorn's WSGI interface on loopback (issue 13, item 5).

Django's test client cannot send what breaks here: a chunked body with no Content-Length
(Django's WSGI request reads nothing then) and a body over DATA_UPLOAD_MAX_MEMORY_SIZE
as it comes over a socket. The server is a separate process on the test database, so
the tests are ``transaction=True``.
"""

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tests.events.workerproc import database_url
from tests.helpers import fixture, zalo_signature
from zalohub.events.models import RejectedRequest, ZaloEvent

pytestmark = pytest.mark.django_db(transaction=True)
HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[int]:
    """uvicorn --interface wsgi serving the hub on the test database: its port."""
    with django_db_blocker.unblock():
        url = database_url()
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "zalohub.settings",
        "DATABASE_URL": url,
        "ZALOHUB_DATA_DIR": str(settings.DATA_DIR),
        "ZALOHUB_ENCRYPTION_KEYS": ",".join(settings.ENCRYPTION_KEYS),
        # Each test makes its app afresh: no lookup outlives it in the server.
        "ZALOHUB_WEBHOOK_LOOKUP_CACHE_SECONDS": "0",
    }
    log = tmp_path_factory.mktemp("uvicorn") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                *(str(Path(sys.executable)), "-m", "uvicorn", "zalohub.wsgi:application"),
                *("--interface", "wsgi", "--host", HOST, "--port", str(port)),
                *("--lifespan", "off", "--no-access-log"),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None:
                with contextlib.suppress(OSError):
                    conn = http.client.HTTPConnection(HOST, port, timeout=5)
                    conn.request("GET", "/zalo/webhook/ping/")
                    if conn.getresponse().status == 200:
                        break
                time.sleep(0.2)
            else:
                pytest.fail(f"uvicorn did not start: {log.read_text(errors='replace')}")
            yield port
        finally:
            proc.terminate()
            proc.wait(20)
    assert "Internal Server Error" not in log.read_text(errors="replace")


def _post(port: int, path: str, chunks: list[bytes], *, chunked: bool, **headers: str):
    """(status, content type, body) of a POST, sent chunked (no Content-Length) or not."""
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    if chunked:
        conn.request("POST", path, body=iter(chunks), headers=headers, encode_chunked=True)
    else:
        conn.request("POST", path, body=b"".join(chunks), headers=headers)
    response = conn.getresponse()
    answer = (response.status, response.getheader("Content-Type"), response.read())
    conn.close()
    return answer


def _signature(app, raw: str) -> str:
    timestamp = str(json.loads(raw)["timestamp"])
    return zalo_signature(first=app.app_id, raw=raw, timestamp=timestamp, key=app.oa_secret_key)


def test_a_chunked_body_is_read_whole_and_accepted_once(server, zalo_app):
    raw = fixture("user_send_text__official")
    data = raw.encode()
    chunks = [data[:40], data[40:90], data[90:]]
    path = f"/zalo/webhook/{zalo_app.app_id}/"
    headers = {"Content-Type": "application/json", "X-ZEvent-Signature": _signature(zalo_app, raw)}
    # It should read every chunk, accept the event, and store it byte for byte...
    status, kind, body = _post(server, path, chunks, chunked=True, **headers)
    assert (status, kind) == (200, "application/json"), body
    assert json.loads(body) == {"ok": True, "duplicate": False}
    assert ZaloEvent.objects.get().raw_body == raw
    # ... once: Zalo's redelivery, chunked again, is a duplicate.
    status, _kind, body = _post(server, path, chunks, chunked=True, **headers)
    assert status == 200 and json.loads(body)["duplicate"] is True
    assert ZaloEvent.objects.count() == 1
    assert not RejectedRequest.objects.exists()


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_a_body_over_the_limit_gets_a_json_413_and_a_record(server, zalo_app, chunked):
    # Over Django's DATA_UPLOAD_MAX_MEMORY_SIZE too (2.5 MB), not only over the webhook's.
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024
    chunks = [b'{"pad": "', *([b"x" * 65536] * (size // 65536)), b'"}']
    path = f"/zalo/webhook/{zalo_app.app_id}/"
    status, kind, body = _post(
        server, path, chunks, chunked=chunked, **{"Content-Type": "application/json"}
    )
    # It should answer JSON (not Django's HTML 400) and keep a bounded record.
    assert (status, kind) == (413, "application/json"), body[:300]
    assert "larger than" in json.loads(body)["error"]
    assert not ZaloEvent.objects.exists()
    record = RejectedRequest.objects.get()
    assert record.status_code == 413 and record.app_id == zalo_app.app_id
    assert len(record.body) <= settings.WEBHOOK_REJECTED_BODY_BYTES
    total = sum(map(len, chunks))
    # The size it declared; a chunked body is read only just past the limit.
    expected = settings.WEBHOOK_MAX_BODY_BYTES + 1 if chunked else total
    assert record.body_size == expected


def test_hostile_requests_get_a_json_4xx_through_the_real_stack(server, zalo_app):
    raw = fixture("user_send_text__official")
    ours = f"/zalo/webhook/{zalo_app.app_id}/"
    cases = [
        ("/zalo/webhook/%00/", raw.encode(), {}, 404),
        (ours, raw.encode(), {"X-ZEvent-Signature": "mac=\xf1" + "0" * 63}, 401),
        (ours, ('{"a":' * 40_000 + "1" + "}" * 40_000).encode(), {}, 400),
        (ours, ('{"n": ' + "7" * 5000 + "}").encode(), {}, 400),
        (ours, raw.encode() + b"\x00", {}, 400),
    ]
    for path, body, headers, expected in cases:
        status, kind, answer = _post(server, path, [body], chunked=False, **headers)
        # It should answer each with its 4xx in JSON, and record it (never a 500).
        assert (status, kind) == (expected, "application/json"), (path, answer[:200])
    assert RejectedRequest.objects.count() == len(cases)
    assert not ZaloEvent.objects.exists()
