"""``Idempotency-Key`` on every POST: the first answer is kept and given again to a
repeat with the same method, path and body; another body under the same key is 409.

The kept row is INSERTed first, in the same transaction as the work: a concurrent repeat
waits on the unique index until the first commits, then reads its answer. So the work
is done once, however many repeats race. Answers of 5xx (and crashes) are not kept: the
work was rolled back, so trying again is right.
"""

import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, OperationalError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from pydantic import BaseModel

from zalohub.api import problems
from zalohub.api.models import ApiKey, IdempotentRequest
from zalohub.api.problems import ApiProblem

HEADER = "Idempotency-Key"
MAX_KEY = 255
DOC = (
    "A key of your choice (a UUID, say) that makes a retry safe: a repeat with the same "
    "key and body gets the first answer again; another body under the same key is 409."
)
Handler = Callable[[], tuple[int, BaseModel]]
# PostgreSQL's deadlock_detected. A batch of API sends (``accept``) writes its
# Idempotency-Key rows after its messages, so a first sent alone here (its key's row
# held, then the conversation's) and its repeat in a batch (the conversation's row
# held, then the key's) can deadlock: PostgreSQL ends one of them. The batch's requests
# then come here one by one; a request here tries again.
DEADLOCK = "40P01"
DEADLOCK_TRIES = 2


def request_digest(request: HttpRequest) -> str:
    h = hashlib.sha256()
    h.update(f"{request.method} {request.path}\n".encode())
    h.update(request.body)
    return h.hexdigest()


def key_valid(idempotency_key: str) -> bool:
    return len(idempotency_key) <= MAX_KEY and idempotency_key.isprintable()


def _run(handler: Handler) -> tuple[int, str, str]:
    try:
        status, result = handler()
    except ApiProblem as exc:
        if exc.status >= 500:
            raise
        return exc.status, json.dumps(problems.body(exc), ensure_ascii=False), problems.CONTENT_TYPE
    text = json.dumps(result.model_dump(mode="json"), ensure_ascii=False)
    return status, text, "application/json"


def answer(status: int, text: str, content_type: str) -> HttpResponse:
    return HttpResponse(text, status=status, content_type=content_type)


def replay(key: ApiKey, idempotency_key: str, digest: str) -> HttpResponse:
    """The first answer kept under this key (committed), or 409."""
    kept = IdempotentRequest.objects.filter(key=key, idempotency_key=idempotency_key).first()
    if kept is None or kept.status_code is None:
        raise ApiProblem(
            409,
            "idempotency_in_progress",
            _("A request with this Idempotency-Key is still being answered; try again."),
        )
    if kept.request_hash != digest:
        raise ApiProblem(
            409,
            "idempotency_key_reused",
            _("This Idempotency-Key was used with another request; use a new key."),
        )
    again = answer(kept.status_code, kept.response_body, kept.content_type)
    again["Idempotent-Replayed"] = "true"
    return again


def idempotent(
    request: HttpRequest, *, key: ApiKey, idempotency_key: str | None, handler: Handler
) -> HttpResponse:
    """Run ``handler`` (the POST's work) in one transaction, at most once per key."""
    if not idempotency_key:
        with transaction.atomic():
            return answer(*_run(handler))
    if not key_valid(idempotency_key):
        raise ApiProblem(
            400,
            "invalid_idempotency_key",
            _("An Idempotency-Key is 1 to %(max)d printable characters.") % {"max": MAX_KEY},
        )
    digest = request_digest(request)
    tries = 1
    while True:
        try:
            return _first_or_replay(key, idempotency_key, digest, handler)
        except OperationalError as exc:
            if tries >= DEADLOCK_TRIES or getattr(exc.__cause__, "sqlstate", None) != DEADLOCK:
                raise
            tries += 1  # all of it rolled back: once more, as the client's retry would


def _first_or_replay(
    key: ApiKey, idempotency_key: str, digest: str, handler: Handler
) -> HttpResponse:
    inserted = False
    try:
        with transaction.atomic():
            kept = IdempotentRequest.objects.create(
                key=key, idempotency_key=idempotency_key, request_hash=digest
            )
            inserted = True
            status, text, content_type = _run(handler)
            IdempotentRequest.objects.filter(pk=kept.pk).update(
                status_code=status, response_body=text, content_type=content_type
            )
    except IntegrityError:
        if inserted:  # the work's own conflict, not a repeat
            raise
        return replay(key, idempotency_key, digest)
    return answer(status, text, content_type)
