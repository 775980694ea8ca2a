"""schemathesis against /api/v1/openapi.json: examples generated from the schema for
every operation (bounded), sent through Django's WSGI handler with a real key; no
answer is a 500, and every answer's status, content type, headers and body match what
the schema declares. Positive examples (valid by the schema), then negative ones (which
must be refused with a 4xx, never crash the hub). Subscription writes are left out:
their URL check resolves host names (see _resolves_names).

Bounded by ZALOHUB_API_FUZZ_EXAMPLES (per operation and mode, default 15). The counts
are printed (run with -s to see them)."""

import contextlib
import os
from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import SON
from zalohub.api.models import Capability
from zalohub.events.outbound.oa_message import message_send
from zalohub.inbox.models import Conversation

EXAMPLES = int(os.environ.get("ZALOHUB_API_FUZZ_EXAMPLES", "15"))
CONFORMS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _operations(schema) -> list:
    return [result.ok() for result in schema.get_all_operations()]


def _resolves_names(operation) -> bool:
    """A subscription's URL is checked by resolving its host name: generated names would
    send DNS queries off this machine. Those two operations are tested by name in
    test_webhooks_api.py instead."""
    return "/webhooks/" in operation.path and operation.method.upper() in {"POST", "PATCH"}


@contextlib.contextmanager
def wsgi_app() -> Iterator[WSGIHandler]:
    """Django's WSGI handler, without its request signals' close_old_connections, which
    would close the test's connection (and its transaction), as Django's test client
    avoids too. Entered after the fixtures: each test client request connects it again."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _explore(operation, mode, headers, counts: Counter, statuses: Counter) -> None:
    """One operation's bounded examples in one mode, each sent and checked."""
    checks = CONFORMS if mode == GenerationMode.POSITIVE else [not_a_server_error]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        response = case.call(headers=headers)
        counts[mode.value] += 1
        statuses[f"{mode.value} {response.status_code}"] += 1
        case.validate_response(response, checks=checks, headers=headers)

    try:
        run()
    except Unsatisfiable:
        # Nothing to break in an operation without parameters or body (GET /health).
        if mode == GenerationMode.POSITIVE:
            raise
        counts["no negative"] += 1


@pytest.mark.django_db
def test_every_operation_conforms_and_never_fails(make_key, oa, son, approved, sandbox):
    # Rows for the generated ids to find now and then: a send, a conversation.
    message_send(oa=oa, user_id=SON, text="Xin chào")
    Conversation.objects.get_or_create(oa=oa, zalo_user_id=SON)
    _, api = make_key(caps=Capability.values, rate=1_000_000)
    headers = {"Authorization": f"Bearer {api.raw}"}
    statuses: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    with wsgi_app() as wsgi:
        schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi)
        operations = [op for op in _operations(schema) if not _resolves_names(op)]
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _explore(operation, mode, headers, counts, statuses)
    print(
        f"\nschemathesis: {len(operations)} operations, {counts['positive']} positive and "
        f"{counts['negative']} negative examples ({counts['no negative']} operations with nothing "
        f"to negate); answers {dict(sorted(statuses.items()))}"
    )
    assert len(operations) >= 22
    assert counts["positive"] >= len(operations)
    assert not any(s.split()[1].startswith("5") for s in statuses)
