"""/healthz and /readyz: unauthenticated JSON probes, 200 when ready and 503 when not."""

import socket

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

from zalohub.core import probes


@pytest.fixture(autouse=True)
def fresh_migration_check():
    probes.clear_cache()
    yield
    probes.clear_cache()


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _forget_a_migration() -> None:
    """As if a deploy shipped a migration that `migrate` has not applied yet."""
    app, name = sorted(MigrationExecutor(connection).loader.graph.leaf_nodes())[0]
    assert MigrationRecorder(connection).migration_qs.filter(app=app, name=name).delete()[0] == 1


def test_it_says_the_process_answers(client):
    # It should answer without a database or a login.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_it_is_ready_with_the_database_migrated(client, settings):
    settings.REDIS_URL = ""
    response = client.get("/readyz")
    # It should check the database and the migrations, and say Redis is not configured.
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "redis": "not configured"},
    }


@pytest.mark.django_db
def test_it_is_not_ready_with_an_unapplied_migration(client, settings):
    settings.REDIS_URL = ""
    _forget_a_migration()
    response = client.get("/readyz")
    # It should answer 503 and say how many migrations wait.
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["migrations"] == "1 unapplied"


@pytest.mark.django_db
def test_it_reads_the_migration_files_at_most_once_per_period(client, settings):
    settings.REDIS_URL = ""
    assert client.get("/readyz").status_code == 200
    _forget_a_migration()
    # It should answer from its short cache (probes come every few seconds)...
    assert client.get("/readyz").status_code == 200
    # ...and see the change once the cache is forgotten (or its period is over).
    probes.clear_cache()
    assert client.get("/readyz").status_code == 503


@pytest.mark.django_db
def test_it_is_not_ready_when_the_configured_redis_does_not_answer(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    response = client.get("/readyz")
    # It should answer 503, naming Redis, without the connection error's text.
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "ok",
        "migrations": "ok",
        "redis": "unreachable",
    }


@pytest.mark.django_db
def test_it_answers_plain_http_where_the_hub_redirects_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.REDIS_URL = ""
    # It should answer a load balancer's plain-HTTP probe, not redirect it...
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 200
    # ...while the rest of the hub still goes to HTTPS.
    assert client.get("/admin/").status_code == 301


@pytest.mark.django_db
def test_it_is_ready_when_the_configured_redis_answers(client, settings):
    # The development and CI machines run Redis here (DESIGN.md, "Services").
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    response = client.get("/readyz")
    # It should ping it and say so.
    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == "ok"
