"""Request ids and JSON log lines (ZALOHUB_LOG_FORMAT=json): one line per request and
per job, the id following an event from its webhook to its handler and API logs."""

import json
import logging
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.test import Client

from tests.helpers import post_webhook
from tests.inbox.conftest import user_payload
from zalohub.core import periodic, requestid
from zalohub.core.logs import JsonLines
from zalohub.events.models import ZaloEvent
from zalohub.events.processing.queue import drain


def as_json(record: logging.LogRecord) -> dict:
    return json.loads(JsonLines().format(record))


@pytest.mark.django_db
def test_a_request_answers_its_id_and_logs_one_line(caplog):
    client = Client()
    with caplog.at_level(logging.INFO, logger="zalohub.request"):
        proxied = client.get("/healthz", headers={"x-request-id": "edge-7f3a9c21"})
        made_up = client.get("/healthz?code=SECRETCODE&state=s1", headers={"x-request-id": "x y"})
    # It should keep the proxy's id when it is sane, and make its own otherwise.
    assert proxied["X-Request-ID"] == "edge-7f3a9c21"
    assert made_up["X-Request-ID"] != "x y" and len(made_up["X-Request-ID"]) == 24
    first, second = (as_json(r) for r in caplog.records if r.name == "zalohub.request")
    # It should log one JSON line per request: method, path, status, time, id.
    assert first["request_id"] == "edge-7f3a9c21"
    assert (first["method"], first["path"], first["status"]) == ("GET", "/healthz", 200)
    assert isinstance(first["duration_ms"], float)
    # It should never log a credential from the query string.
    assert "SECRETCODE" not in json.dumps(second)
    assert second["request_id"] == made_up["X-Request-ID"]


def test_it_follows_a_webhook_to_its_handler(db, zalo_app, connected_oa, caplog):
    raw = user_payload("Cho hỏi giá")
    with caplog.at_level(logging.INFO, logger="zalohub.job"):
        response = post_webhook(
            Client(),
            zalo_app.app_id,
            raw,
            key=zalo_app.oa_secret_key,
            X_REQUEST_ID="zalo-delivery-0001",
        )
        assert response.status_code == 200
        assert response["X-Request-ID"] == "zalo-delivery-0001"
        # It should store the webhook's id with its event...
        event = ZaloEvent.objects.get()
        assert event.request_id == "zalo-delivery-0001"
        drain()
    # ... and log the worker's handling of the event under that id.
    [line] = [as_json(r) for r in caplog.records if r.name == "zalohub.job"]
    assert line["request_id"] == "zalo-delivery-0001"
    assert (line["event_id"], line["state"]) == (event.pk, "processed")


@pytest.mark.django_db
def test_each_periodic_job_run_has_an_id_and_a_line(caplog):
    seen = []
    job = periodic.Job(
        name="test.request_ids",
        every=timedelta(seconds=60),
        func=lambda: seen.append(requestid.current()),
    )
    with caplog.at_level(logging.INFO, logger="zalohub.job"):
        assert periodic.run_job(job, "w1")
    [line] = [as_json(r) for r in caplog.records if r.name == "zalohub.job"]
    # It should run the job under an id of its own, and log it with the job's line.
    assert seen[0] and line["request_id"] == seen[0]
    assert (line["job"], line["ok"], line["worker"]) == ("test.request_ids", True, "w1")


def test_json_format_writes_one_object_per_line(tmp_path):
    code = (
        "import django, logging; django.setup()\n"
        "logging.getLogger('zalohub.job').info('job x done', extra={'job': 'x'})\n"
        "logging.getLogger('zalohub.request').info('GET /', extra={'status': 200})\n"
        "try:\n"
        "    raise RuntimeError('boom')\n"
        "except RuntimeError:\n"
        "    logging.getLogger('zalohub').exception('failed')\n"
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "zalohub.settings",
        "ZALOHUB_DATA_DIR": str(tmp_path / "data"),
        "ZALOHUB_DEBUG": "1",
        "ZALOHUB_LOG_FORMAT": "json",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    # It should write each record as one JSON object, the traceback inside it.
    job, request, failure = (json.loads(line) for line in done.stderr.splitlines())
    assert (job["logger"], job["job"], job["message"]) == ("zalohub.job", "x", "job x done")
    assert request["status"] == 200
    assert "RuntimeError: boom" in failure["exc"] and failure["level"] == "ERROR"
