"""`zalohub serve` with ``ZALOHUB_LOG_FORMAT=json``: every line it writes is JSON, and
each request has exactly one line, the hub's request line with its request id (uvicorn's
access log is off), for a webhook, a page and a stream served by the async front alike.

The process sees only committed rows, so the tests are ``django_db(transaction=True)``."""

import http.client
import json
import re

import pytest
from django.conf import settings
from django.urls import reverse

from tests.core.serveproc import HOST, ServeProc, StreamReader, session_cookie, text_event
from tests.helpers import zalo_signature
from zalohub.inbox.models import OAMembership

pytestmark = pytest.mark.django_db(transaction=True)


def _request(port: int, method: str, path: str, **kwargs) -> tuple[int, str]:
    """The answer's status and X-Request-ID."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request(method, path, **kwargs)
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("X-Request-ID", "")
    finally:
        conn.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_json_logging_writes_one_json_line_per_request(
    agent, zalo_app, connected_oa, tmp_path, workers
):
    OAMembership.objects.create(user=agent, oa=connected_oa)
    cookie = session_cookie(agent)
    server = ServeProc(
        tmp_path,
        threads=2,
        workers=workers,
        extra_env={"ZALOHUB_LOG_FORMAT": "json"},
        extra_args=("--log-level", "info"),  # uvicorn's own lines too
    )
    try:
        body = text_event(1)
        timestamp = str(json.loads(body)["timestamp"])
        signature = zalo_signature(
            first=zalo_app.app_id, raw=body, timestamp=timestamp, key=zalo_app.oa_secret_key
        )
        webhook = _request(
            server.port,
            "POST",
            f"/zalo/webhook/{zalo_app.app_id}/",
            body=body.encode(),
            headers={"Content-Type": "application/json", "X-ZEvent-Signature": signature},
        )
        page = _request(
            server.port,
            "GET",
            reverse("inbox:index"),
            headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"},
        )
        stream = StreamReader(server.port, cookie)
        assert stream.wait_for("retry: 1000"), server.output()
        found = re.search(r"(?im)^x-request-id: (\S+)\r$", stream.text)
        assert found, stream.text
        stream.close()
    finally:
        server.terminate()
        code = server.wait()
        server.stop_quietly()
    assert code == 0, server.output()
    assert webhook[0] == 200 and page[0] == 200, (webhook, page, server.output())
    ids = {"webhook": webhook[1], "page": page[1], "stream": found.group(1)}
    assert all(ids.values()) and len(set(ids.values())) == 3, ids
    # It should write nothing but JSON objects, one a line (the served line for the stream
    # is written when the view answers, the stream's end writes none).
    lines = [line for line in server.output().splitlines() if line.strip()]
    assert lines, "zalohub serve wrote nothing"
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}\n{server.output()}")
    assert all(isinstance(entry, dict) for entry in entries)
    # uvicorn's own lines (it started, it stopped) are among them, without its colours.
    assert any(e.get("logger") == "uvicorn.error" for e in entries), server.output()
    assert "\\u001b" not in server.output()
    # It should leave uvicorn's access log out: one line per request, the hub's.
    assert not [e for e in entries if e.get("logger") == "uvicorn.access"], server.output()
    for what, request_id in ids.items():
        mine = [e for e in entries if e.get("request_id") == request_id]
        assert len(mine) == 1, (what, mine)
        assert mine[0]["logger"] == "zalohub.request"
        assert mine[0]["status"] == 200
