"""API message sends, each accepted as one row: its outbound event.

A send to a Zalo user id answers 202 once its outbound event is committed, Processing
State Received, with the event's id (as ingest answers a webhook once its row is
committed). A worker's sends loop then gives the event its message, as the inbox stores
a reply (the conversation and the live inbox follow from the stored-messages hook),
queues it and sends it (``oa_message.accepted_queue``): a moment later, the message is
in the inbox and ``GET /events/{id}`` shows it. Everything the request may be answered
other than 202 is decided before the row is written, so the row is the whole of the
send:

- the key is read again where the row is stored: a key revoked or narrowed meanwhile,
  in any process, stores nothing (the request then answers 401 or 404 itself);
- the rate limit counts the send in the same statement (on PostgreSQL, each key's
  first try, ``ratelimit.first_try``, an UPDATE in the statement's WITH; otherwise
  ``ratelimit.take_many`` just before): a send past it is answered 429 and stored not;
- a send to an unverified shadow contact without ``confirm_unverified`` is not stored
  (the request answers 422);
- an ``Idempotency-Key`` is the row's dedupe key (``idem:<api key>:<sha-256 of the
  Idempotency-Key>``, unique in the whole table): a repeat finds the row taken
  (``ON CONFLICT DO NOTHING``; a concurrent first is waited for by the unique index
  until it commits) and is answered the first answer, or 409 for another body
  (``sends._replayed``: the row's headers keep the first request's digest). A key whose first
  answer was a refusal (kept by ``idempotency``) is left to the request, which gives it.

The sends of one process that reach this point together are stored by one of them in
one statement and one commit (``zalohub.core.groupcommit``, as ingest's webhook rows):
on PostgreSQL, ``_pg_statement``: the rows as one JSON parameter, checked by joins, the
counts in its WITH, inserted in dedupe-key order, in autocommit, prepared on the
connection the group commit holds (``core.heldconn``, as ingest's). Elsewhere (SQLite) the
same checks are made with the ORM in one transaction (``_accept_orm``). Whatever a send
is answered other than 202 (its key revoked, the OA not its own, a shadow contact, the
whole batch failing) is left to the request itself, which then takes the careful path of
one send alone (``sends.message_create``) with its key read again, in the language of
its own request. Inside a transaction (tests, management code) a send is stored alone,
in a savepoint of it.
"""

import functools
import hashlib
import json
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from zalohub.accounts.models import OfficialAccount
from zalohub.api import ratelimit
from zalohub.api.models import ApiKey, Capability, IdempotentRequest
from zalohub.core import rowinsert
from zalohub.core.groupcommit import Failed, GroupCommit, in_transaction
from zalohub.core.heldconn import HeldConnection
from zalohub.events.models import Direction, ProcessingState, ZaloEvent, ZaloState
from zalohub.events.outbound import queued
from zalohub.partners.models import ZaloPartnerLink
from zalohub.zalo import bodies

BATCH_CAP = 128  # sends per statement
# A new leader waits this long for the requests right behind it (as ingest's linger).
LINGER_SECONDS = 0.0003
JSON = "application/json"
# The row's headers: the first request's Idempotency-Key and digest, and what its 202
# said (``received``: no message yet; ``queued``: the careful path made it at once).
IDEMPOTENCY_HEADER = "Idempotency-Key"
DIGEST_HEADER = "Request-Digest"
ACCEPTED_HEADER = "Accepted-As"


def idempotency_dedupe(key_pk: int, idempotency_key: str) -> str:
    """The dedupe key of the event a send with this Idempotency-Key is stored as."""
    return f"idem:{key_pk}:{hashlib.sha256(idempotency_key.encode()).hexdigest()}"


def accepted_headers(idempotency_key: str, digest: str, accepted_as: str) -> dict[str, str]:
    if not idempotency_key:
        return {ACCEPTED_HEADER: accepted_as}
    return {
        IDEMPOTENCY_HEADER: idempotency_key,
        DIGEST_HEADER: digest,
        ACCEPTED_HEADER: accepted_as,
    }


def accepted_text(event_id: int, message_id: int | None, accepted_as: str) -> str:
    """The 202's body (``schemas.Accepted``), field for field."""
    return json.dumps(
        {
            "event_id": event_id,
            "message_id": message_id,
            "processing_state": accepted_as,
            "zalo_state": ZaloState.ON_QUEUE.value,
        },
        ensure_ascii=False,
    )


@dataclass
class Send:
    """One request's message send, as the request checked it (``sends.message_create``)."""

    key: ApiKey
    oa_id: int
    user_id: str
    kind: str
    text: str
    attachment: dict[str, Any] | None
    confirm_unverified: bool
    idempotency_key: str  # "" without one
    digest: str  # the request's, for a repeat's comparison
    request_id: str
    received_at: datetime = field(default_factory=timezone.now)
    dedupe_key: str = ""

    def __post_init__(self) -> None:
        if not self.dedupe_key:
            self.dedupe_key = (
                idempotency_dedupe(self.key.pk, self.idempotency_key)
                if self.idempotency_key
                else f"api:{self.key.pk}:{secrets.token_hex(12)}"
            )

    def raw_body(self) -> str:
        """What the worker will send Zalo, as every outbound OA message's event keeps it."""
        message = bodies.oa_message(self.kind, text=self.text, attachment=self.attachment)
        request = bodies.oa_message_request(user_id=self.user_id, message=message)
        return json.dumps(request, ensure_ascii=False)


class Limited(NamedTuple):
    """Past the key's rate limit: 429, Retry-After ``wait`` seconds."""

    wait: float


# What became of a send: answered 202 (the answer's text), a repeat of a stored send,
# past the rate limit, or left to the request: ``ALONE`` (counted already, unless its
# key was revoked: the request answers 401) or ``FAILED`` (not counted).
REPLAY = "replay"
ALONE = "alone"
FAILED = "failed"
Outcome = str | tuple[int, str, str] | Limited


def accept(send: Send) -> Outcome:
    """Store the send with the others of this moment; what became of it (module doc)."""
    if in_transaction():
        with transaction.atomic():
            return _store([send])[0]
    return committer.send(send)


def _by_key(sends: list[Send]) -> dict[int, list[int]]:
    by_key: dict[int, list[int]] = defaultdict(list)
    for n, send in enumerate(sends):
        by_key[send.key.pk].append(n)
    return by_key


def _precount(sends: list[Send], keys: list[int], outcomes: list[Outcome]) -> set[int]:
    """Count the sends of ``keys`` with ``take_many`` (keys in order: the rows' locks are
    taken in one order); the sends past the limit get their 429. The sends counted."""
    by_key = _by_key(sends)
    counted: set[int] = set()
    for pk in sorted(keys):
        mine = by_key[pk]
        passed, wait = ratelimit.take_many(sends[mine[0]].key, len(mine))
        counted.update(mine[:passed])
        for n in mine[passed:]:
            outcomes[n] = Limited(wait)
    return counted


def _firsts(sends: list[Send], outcomes: list[Outcome]) -> list[int]:
    """The sends to store: not limited, and the first of the batch with its dedupe key
    (a later send with the same Idempotency-Key repeats it)."""
    seen: set[str] = set()
    firsts = []
    for n, send in enumerate(sends):
        if isinstance(outcomes[n], Limited):
            continue
        if send.dedupe_key in seen:
            outcomes[n] = REPLAY
            continue
        seen.add(send.dedupe_key)
        firsts.append(n)
    return firsts


def _active(keys: set[int]) -> list[int]:
    """The keys that are not revoked now: only their sends are counted (a revoked key's
    request answers 401 and spends nothing)."""
    return list(
        ApiKey.objects.filter(pk__in=keys, revoked_at__isnull=True).values_list("pk", flat=True)
    )


def _store(sends: list[Send], held: HeldConnection | None = None) -> list[Outcome]:
    """The batch's outcomes; once it is committed, this process's sends loop (if it has
    one) is woken for the sends stored. ``held``: on PostgreSQL, the connection a batch
    in autocommit runs its statement on (the group commit's), else Django's."""
    outcomes = _stored(sends, held)
    if any(isinstance(o, tuple) and not isinstance(o, Limited) for o in outcomes):
        transaction.on_commit(queued.wake)  # at once in autocommit
    return outcomes


def _stored(sends: list[Send], held: HeldConnection | None) -> list[Outcome]:
    """On PostgreSQL one statement (in autocommit, or in one transaction with the counts
    ``take_many`` made in the database just before), else the ORM's checks and rows in
    one transaction."""
    if connection.vendor != "postgresql":
        outcomes: list[Outcome] = [FAILED] * len(sends)
        with transaction.atomic():
            counted = _precount(sends, _active(set(_by_key(sends))), outcomes)
            return _accept_orm(sends, outcomes, counted)
    qn = connection.ops.quote_name
    active_key = (
        f"EXISTS (SELECT 1 FROM {qn(ApiKey._meta.db_table)} "  # noqa: S608  (names from the model)
        f"WHERE {qn('id')} = %s AND {qn('revoked_at')} IS NULL)"
    )
    by_key = _by_key(sends)
    # One key (the usual batch): its try waits for a share another batch holds rather
    # than pass it over, and so counts unless the share is full or not made yet. With
    # several keys, whose UPDATEs the statement runs in no set order, they pass over a
    # held share: two batches never wait on each other.
    wait = len(by_key) == 1
    tries = {
        pk: ratelimit.first_try(
            sends[mine[0]].key, len(mine), only_if=(active_key, [pk]), wait=wait
        )
        for pk, mine in by_key.items()
    }
    outcomes = _counted_then_stored(sends, tries, held)
    # A key whose first try counted nothing (its window's first use, its shares held or
    # nearly used up) stored nothing: its sends are counted by take_many and stored now.
    missed = [n for n, outcome in enumerate(outcomes) if outcome == FAILED]
    if missed:
        again = _counted_then_stored([sends[n] for n in missed], {}, held)
        for n, outcome in zip(missed, again, strict=True):
            outcomes[n] = outcome
    return outcomes


def _counted_then_stored(
    sends: list[Send], tries: dict[int, tuple[str, list[Any]] | None], held: HeldConnection | None
) -> list[Outcome]:
    """``_accept_pg`` with the sends of the keys that have no first try in ``tries``
    counted by ``take_many`` before (only the active keys': a revoked key's sends stay
    FAILED, not counted)."""
    outcomes: list[Outcome] = [FAILED] * len(sends)
    pre = {send.key.pk for send in sends if tries.get(send.key.pk) is None}
    if pre and ratelimit.counts_roll_back():
        # Counted in the database: the counts and the rows commit together.
        with transaction.atomic():
            precounted = _precount(sends, _active(pre), outcomes)
            return _accept_pg(sends, outcomes, tries, precounted, None)
    precounted = _precount(sends, _active(pre), outcomes) if pre else set()
    return _accept_pg(sends, outcomes, tries, precounted, held)


# The event's columns a send fills from its row of the statement's JSON parameter;
# ``app_id`` and ``conversation_key`` come from the OA's row, every other column gets its
# model default.
_GIVEN: tuple[str, ...] = ("oa_id", "direction", "event_name", "dedupe_key", "raw_body")
_GIVEN += ("headers", "zalo_user_id", "processing_state", "request_id", "received_at")
_GIVEN += ("next_attempt_at",)
_FROM_OA = ("app_id", "conversation_key")
# The rest of a row: what the statement checks the send by.
_CHECKED: tuple[tuple[str, str], ...] = (("key_id", "bigint"), ("confirm", "boolean"))
_CHECKED += (("counted", "boolean"), ("idem", "text"))


@functools.lru_cache(maxsize=4)
def _pg_tail(tries: bool) -> str:
    """``_pg_statement`` after its rate-limit tries: the rows (``r``) that pass the
    checks (``ok``) are inserted (``ins``); it returns the rows inserted (0, id, dedupe
    key), the rows that passed (1, ordinal) and, with ``tries``, the keys the tries
    counted (2, key pk: the ``counted`` of the WITH before)."""
    qn = connection.ops.quote_name
    event, key, oa = ZaloEvent._meta, ApiKey._meta, OfficialAccount._meta
    through = ApiKey.oas.through._meta
    inserted, selected = rowinsert.insert_from(ZaloEvent, (*_GIVEN, *_FROM_OA))
    source = rowinsert.recordset(ZaloEvent, _GIVEN, _CHECKED)
    given = ", ".join(f"r.{qn(c)}" for c in (*_GIVEN, *(name for name, _type in _CHECKED)))
    by_try = f" OR r.{qn('key_id')} IN (SELECT {qn('key_id')} FROM counted)" if tries else ""  # noqa: S608
    return (
        f"ok AS (SELECT {given}, r.{qn('ordinal')}, o.{qn('app_id')}, "  # noqa: S608  (names from the models)
        f"o.{qn('oa_id')} || ':' || r.{qn('zalo_user_id')} AS {qn('conversation_key')} "
        f"FROM {source} "
        f"JOIN {qn(key.db_table)} k ON k.{qn('id')} = r.{qn('key_id')} "
        f"AND k.{qn('revoked_at')} IS NULL AND k.{qn('capabilities')} @> %s::jsonb "
        f"JOIN {qn(through.db_table)} t ON t.{qn('apikey_id')} = k.{qn('id')} "
        f"AND t.{qn('officialaccount_id')} = r.{qn('oa_id')} "
        f"JOIN {qn(oa.db_table)} o ON o.{qn('id')} = r.{qn('oa_id')} "
        f"WHERE (r.{qn('counted')}{by_try}) "
        f"AND NOT EXISTS (SELECT 1 FROM {qn(ZaloPartnerLink._meta.db_table)} l "
        f"WHERE l.{qn('oa_id')} = r.{qn('oa_id')} "
        f"AND l.{qn('zalo_user_id')} = r.{qn('zalo_user_id')} "
        f"AND l.{qn('is_shadow')} AND NOT r.{qn('confirm')}) "
        f"AND NOT EXISTS (SELECT 1 FROM {qn(IdempotentRequest._meta.db_table)} i "
        f"WHERE i.{qn('key_id')} = r.{qn('key_id')} "
        f"AND i.{qn('idempotency_key')} = r.{qn('idem')})), "
        f"ins AS (INSERT INTO {qn(event.db_table)} ({', '.join(inserted)}) "
        f"SELECT {', '.join(selected)} FROM ok r ORDER BY r.{qn('dedupe_key')} "
        f"ON CONFLICT DO NOTHING RETURNING {qn('id')}, {qn('dedupe_key')}) "
        f"SELECT 0, {qn('id')}, {qn('dedupe_key')} FROM ins "
        f"UNION ALL SELECT 1, {qn('ordinal')}, NULL FROM ok"
        + (f" UNION ALL SELECT 2, {qn('key_id')}, NULL FROM counted" if tries else "")  # noqa: S608
    )


def _pg_statement(tries: list[str]) -> str:
    """The batch's one statement on PostgreSQL: the keys' rate-limit first tries
    (``ratelimit.first_try``: each RETURNs its key when it counted the key's sends) in
    its WITH, then ``_pg_tail``."""
    qn = connection.ops.quote_name
    if not tries:
        return "WITH " + _pg_tail(False)
    withs = "".join(f"c{n} AS ({sql}), " for n, sql in enumerate(tries))
    counted = " UNION ALL ".join(f"SELECT {qn('key_id')} FROM c{n}" for n in range(len(tries)))  # noqa: S608
    return f"WITH {withs}counted AS ({counted}), " + _pg_tail(True)


def _row(send: Send, counted: bool) -> list[Any]:
    """A send's values in ``_GIVEN`` then ``_CHECKED``'s order."""
    headers = accepted_headers(send.idempotency_key, send.digest, ProcessingState.RECEIVED)
    return [
        send.oa_id,
        Direction.OUTBOUND.value,
        f"oa_send_{send.kind}",
        send.dedupe_key,
        send.raw_body(),
        headers,
        send.user_id,
        ProcessingState.RECEIVED.value,
        send.request_id,
        send.received_at,
        send.received_at,
        send.key.pk,
        send.confirm_unverified,
        counted,
        send.idempotency_key or None,
    ]


def _accept_pg(
    sends: list[Send],
    outcomes: list[Outcome],
    tries: dict[int, tuple[str, list[Any]] | None],
    precounted: set[int],
    held: HeldConnection | None,
) -> list[Outcome]:
    """The batch in one statement (``_pg_statement``): the sends counted before, and
    those of the keys with a first try. On ``held`` (prepared: the statement's text is
    the same for every batch of one key), else on Django's connection."""
    firsts = [
        n
        for n in _firsts(sends, outcomes)
        if n in precounted or tries.get(sends[n].key.pk) is not None
    ]
    if not firsts:
        return _settle(sends, outcomes, {}, set(), precounted)
    texts: list[str] = []
    values: list[Any] = []
    for _pk, first in sorted((pk, first) for pk, first in tries.items() if first is not None):
        texts.append(first[0])
        values.extend(first[1])
    names = [*_GIVEN, *(name for name, _type in _CHECKED)]
    values += rowinsert.rows_params(names, [_row(sends[n], n in precounted) for n in firsts])
    values.append(json.dumps([Capability.SEND_MESSAGES.value]))  # after the rows, in the text
    inserted: dict[str, int] = {}
    passed: set[int] = set()
    counted_keys: set[int] = set()
    statement = _pg_statement(texts)
    if held is not None:
        rows = held.execute(statement, values)
    else:
        with connection.cursor() as cursor:
            cursor.execute(statement, values)
            rows = cursor.fetchall()
    for part, a, b in rows:
        if part == 0:
            inserted[b] = a
        elif part == 1:
            passed.add(firsts[a - 1])
        else:
            counted_keys.add(a)
    counted = precounted | {n for n in firsts if sends[n].key.pk in counted_keys}
    return _settle(sends, outcomes, inserted, passed, counted)


def _accept_orm(sends: list[Send], outcomes: list[Outcome], counted: set[int]) -> list[Outcome]:
    """The batch's checks and rows with the ORM, in the caller's transaction (SQLite:
    one writer at a time, so what is read here stays so until the commit)."""
    firsts = [n for n in _firsts(sends, outcomes) if n in counted]
    oas = {s.oa_id for s in sends}
    sending = [
        pk
        for pk, capabilities in ApiKey.objects.filter(
            pk__in={s.key.pk for s in sends}, revoked_at__isnull=True
        ).values_list("pk", "capabilities")
        if Capability.SEND_MESSAGES in capabilities
    ]
    scopes = set(
        ApiKey.oas.through.objects.filter(
            apikey_id__in=sending, officialaccount_id__in=oas
        ).values_list("apikey_id", "officialaccount_id")
    )
    accounts = {
        pk: (app_id, zalo_id)
        for pk, app_id, zalo_id in OfficialAccount.objects.filter(pk__in=oas).values_list(
            "pk", "app_id", "oa_id"
        )
    }
    shadows = set(
        ZaloPartnerLink.objects.filter(
            oa_id__in=oas, zalo_user_id__in={s.user_id for s in sends}, is_shadow=True
        ).values_list("oa_id", "zalo_user_id")
    )
    kept = set(
        IdempotentRequest.objects.filter(
            key_id__in={s.key.pk for s in sends},
            idempotency_key__in={s.idempotency_key for s in sends},
        ).values_list("key_id", "idempotency_key")
    )
    inserted: dict[str, int] = {}
    passed: set[int] = set()
    for n in firsts:
        send = sends[n]
        if (
            (send.key.pk, send.oa_id) not in scopes
            or ((send.oa_id, send.user_id) in shadows and not send.confirm_unverified)
            or (send.key.pk, send.idempotency_key) in kept
        ):
            continue
        passed.add(n)
        row = dict(zip(_GIVEN, _row(send, True), strict=False))
        try:
            with transaction.atomic():
                app_id, zalo_id = accounts[send.oa_id]
                event = ZaloEvent.objects.create(
                    app_id=app_id,
                    conversation_key=f"{zalo_id}:{send.user_id}",
                    **row,
                )
        except IntegrityError:
            continue  # its dedupe key taken: a repeat
        inserted[send.dedupe_key] = event.pk
    return _settle(sends, outcomes, inserted, passed, counted)


def _settle(
    sends: list[Send],
    outcomes: list[Outcome],
    inserted: dict[str, int],
    passed: set[int],
    counted: set[int],
) -> list[Outcome]:
    """Each send's outcome: 202 for a row inserted, a repeat for a row that passed the
    checks but found its dedupe key taken, else left to the request (counted or not)."""
    for n, send in enumerate(sends):
        if isinstance(outcomes[n], Limited) or outcomes[n] == REPLAY:
            continue
        event_id = inserted.get(send.dedupe_key)
        if event_id is not None:
            text = accepted_text(event_id, None, ProcessingState.RECEIVED)
            outcomes[n] = (202, text, JSON)
        elif n in passed:
            outcomes[n] = REPLAY
        else:
            outcomes[n] = ALONE if n in counted else FAILED
    return outcomes


class Committer(GroupCommit[Send, Outcome]):
    """The sends' group commit (``core.groupcommit``, as ingest's webhook rows): each
    batch is stored by ``_store``, in one statement on PostgreSQL."""

    name = "API sends"

    def __init__(self, cap: int = BATCH_CAP, linger: float = LINGER_SECONDS) -> None:
        super().__init__(cap)
        self.linger_for = linger
        self._held = HeldConnection()  # opened by the first batch on PostgreSQL

    def linger_seconds(self) -> float:
        return self.linger_for

    def write(self, sends: list[Send]) -> list[Outcome]:
        return _store(sends, self._held)

    def close(self) -> None:
        """Close the connection this process's batches run on, if it has one (the next
        batch opens it again): before the database it points at goes away."""
        self._held.close()

    def send(self, send: Send) -> Outcome:
        outcome = self.run(send)
        # A failed batch stored nothing: each request takes the careful path.
        return FAILED if isinstance(outcome, Failed) else outcome

    @property
    def sends(self) -> int:
        return self.stats().get("rows", 0)

    @property
    def batches(self) -> int:
        return self.stats().get("batches", 0)


committer = Committer()
