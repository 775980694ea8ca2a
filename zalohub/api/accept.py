"""API message sends, accepted together: the concurrent sends of one process share one
transaction, so an accepted send costs a share of a few statements and of one commit.

A send answers 202 once its message, its outbound event (what the workers send it by)
and, with an ``Idempotency-Key``, its kept answer are committed, as before; what changed
is that the requests of one process that reach this point together are stored by one of
them (the *leader*: the first that found nobody storing; the others wait, as the
webhooks' group commit does: both are ``zalohub.core.groupcommit``). In that one
transaction the leader (the batch's reads and the rate limit's UPDATE written as SQL:
the ORM's statements cost more Python to build than the database took to run them):

0. reads every send's key again with its scope, and the recipients' Zalo links, in
   one statement (the request found the key in this process's memory,
   ``keys.key_find_cached``): a key revoked meanwhile, in any process, is neither
   counted nor answered here (its request answers 401: authentication comes first);
1. counts the other requests against their keys' rate limits: on PostgreSQL each
   active key's first try (``ratelimit.first_try``, a conditional UPDATE of one share)
   runs inside step 0's statement, and ``ratelimit.take_many`` counts only what it did
   not (one conditional UPDATE a key, where a request alone made one UPDATE and one
   commit); the requests past the limit are answered 429; the rest must have the OA in
   their key's scope and be allowed to send (a key narrowed meanwhile is caught here);
2. leaves out a send to an unverified shadow contact (its link read in step 0) without
   ``confirm_unverified``;
3. queues the messages (``oa_message.messages_queue``: the messages and their events
   in one statement on PostgreSQL, the inbox's conversations folded in by the
   stored-messages hook; no task row: the
   workers' sends loop finds the committed events, ``events.outbound.queued``); an
   ``Idempotency-Key`` used twice in the batch makes its later sends repeats;
4. inserts the ``Idempotency-Key`` rows with their answers (``ON CONFLICT DO
   NOTHING``, in key order; a concurrent first is waited for by the unique index, as
   before) and commits. A key found taken by a committed first (rare: a client's
   retry) rolls the batch back, and it is stored again with that send a repeat (the
   count of a rollback that keeps it, Redis's, is not made again). A repeat is
   answered once the batch is committed with the first answer (``idempotency.replay``).
   A first sent alone meanwhile (its key's row written first, then its conversation's)
   may deadlock with the batch: PostgreSQL ends one, and either way the request tries
   again (the batch's requests on the careful path; ``idempotency.DEADLOCK``).

Only 202s are decided here. Whatever else a send may be answered (its key revoked, the
OA not its own, a shadow contact, the whole batch failing) is left to the request
itself, which then takes the careful path of one send alone (``sends.message_create``),
with its key read again, in the language of its own request. Inside a transaction
(tests, management code) a send is stored alone, in a savepoint of it. A request that
joins another's batch takes no database connection at all.
"""

import functools
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from zalohub.accounts.models import OfficialAccount
from zalohub.api import ratelimit
from zalohub.api.models import ApiKey, Capability, IdempotentRequest
from zalohub.core import rowinsert
from zalohub.core.groupcommit import Failed, GroupCommit, in_transaction
from zalohub.events.outbound.oa_message import Queued, messages_queue, shadow_refused
from zalohub.partners.models import ZaloPartnerLink

BATCH_CAP = 128  # sends per transaction
# A new leader waits this long for the requests right behind it (as ingest's linger).
LINGER_SECONDS = 0.0003
JSON = "application/json"


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


class Limited(NamedTuple):
    """Past the key's rate limit: 429, Retry-After ``wait`` seconds."""

    wait: float


# What became of a send: answered 202 (the kept answer's text), a repeat of a kept
# answer, past the rate limit, or left to the request: ``ALONE`` (counted already,
# unless its key was revoked: the request answers 401) or ``FAILED`` (the batch failed:
# nothing of it stored, not counted either).
REPLAY = "replay"
ALONE = "alone"
FAILED = "failed"
Outcome = str | tuple[int, str, str] | Limited


class Counted(NamedTuple):
    """The batch's count against the keys' rate limits: the sends allowed, and the
    answer of each send past its key's limit."""

    allowed: list[int]
    limited: dict[int, Limited]


def _by_key(sends: list[Send]) -> dict[int, list[int]]:
    by_key: dict[int, list[int]] = defaultdict(list)
    for n, send in enumerate(sends):
        by_key[send.key.pk].append(n)
    return by_key


def _count(sends: list[Send], active: set[int], counted_first: set[int]) -> Counted:
    """Count the sends of the ``active`` keys against their keys' rate limits, but for
    those of the keys ``counted_first`` (their first try, run in the batch's read, took
    them all). Keys in order (the rows' locks are taken in one order)."""
    by_key = _by_key(sends)
    counted = Counted([], {})
    for pk in sorted(by_key.keys() & active):
        mine = by_key[pk]
        if pk in counted_first:
            counted.allowed.extend(mine)
            continue
        passed, wait = ratelimit.take_many(sends[mine[0]].key, len(mine))
        counted.allowed.extend(mine[:passed])
        counted.limited.update((n, Limited(wait)) for n in mine[passed:])
    counted.allowed.sort()
    return counted


class _Taken(Exception):
    """Idempotency-Keys of the batch that another request took first (its row committed
    before this batch wrote its own): the batch is rolled back and stored again, with
    these sends answered as repeats."""

    def __init__(self, names: set[tuple[int, str]], counted: Counted) -> None:
        super().__init__(f"{len(names)} Idempotency-Keys taken")
        self.names = names
        self.counted = counted


def _store(sends: list[Send]) -> list[Outcome]:
    """``_accept`` in a transaction (a savepoint inside the caller's), again without the
    sends whose Idempotency-Key was found taken: a repeat of a committed first is rare,
    and costs its batch one more try; each try takes one more key as taken, so it ends.
    Counts that a rollback does not undo (Redis's) are not made again."""
    taken: set[tuple[int, str]] = set()
    counted: Counted | None = None
    while True:
        try:
            with transaction.atomic():
                return _accept(sends, taken=taken, counted=counted)
        except _Taken as exc:
            taken |= exc.names
            counted = None if ratelimit.counts_roll_back() else exc.counted


def accept(send: Send) -> Outcome:
    """Store the send with the others of this moment; what became of it (module doc)."""
    if in_transaction():
        return _store([send])[0]
    return committer.send(send)


def _in(values: set[Any]) -> tuple[str, list[Any]]:
    """A column's test of membership in ``values``, and its parameters: an ``IN`` list
    (an array, ``= ANY(%s)``, costs psycopg's client-side binding about four times the
    Python of a short list's values, which its query cache already holds)."""
    ordered = sorted(values)
    return f"IN ({', '.join(['%s'] * len(ordered))})", ordered


Scopes = dict[tuple[int, int], tuple[list[str], int, int, str]]
Links = dict[tuple[int, str], tuple[int, bool]]


def _first_tries(sends: list[Send]) -> tuple[str, list[Any], str]:
    """The WITH of ``_reads`` that counts each active key's sends by its first try
    (``ratelimit.first_try``), its parameters, and the part of the result that names the
    keys it counted; empty where the database cannot."""
    qn = connection.ops.quote_name
    active_key = (
        f"EXISTS (SELECT 1 FROM {qn(ApiKey._meta.db_table)} "  # noqa: S608  (names from the model)
        f"WHERE {qn('id')} = %s AND {qn('revoked_at')} IS NULL)"
    )
    tries: list[str] = []
    params: list[Any] = []
    for pk, mine in sorted(_by_key(sends).items()):
        first = ratelimit.first_try(sends[mine[0]].key, len(mine), only_if=(active_key, [pk]))
        if first is not None:
            tries.append(f"c{len(tries)} AS ({first[0]})")
            params += first[1]
    if not tries:
        return "", [], ""
    counted = "".join(
        f" UNION ALL SELECT 2, {qn('key_id')}, NULL, NULL, NULL, NULL, NULL FROM c{n}"  # noqa: S608
        for n in range(len(tries))
    )
    return f"WITH {', '.join(tries)} ", params, counted


def _reads(sends: list[Send], *, count: bool) -> tuple[set[int], Scopes, Links, set[int]]:
    """What the batch reads, in one statement written as SQL (building the ORM's joins
    cost more than running them, and each statement is a round trip):

    - the batch's keys that are not revoked, and (key pk, OA pk) -> (capabilities, rate
      limit, app pk, OA's Zalo id) of their OAs among the batch's;
    - (OA pk, Zalo user id) -> (link pk, is shadow) of the recipients' Zalo links;
    - with ``count``, where the database can (``ratelimit.first_try``): the keys whose
      sends were counted against their rate limit by the first try of each key, an
      UPDATE in the statement's WITH, made only for a key not revoked.

    The parts are told apart by their first column; the columns of one type in all
    (text for the capabilities' JSON and the user id)."""
    qn = connection.ops.quote_name
    key_meta, oa_meta = ApiKey._meta, OfficialAccount._meta
    through = ApiKey.oas.through._meta
    keys, key_params = _in({s.key.pk for s in sends})
    oas, oa_params = _in({s.oa_id for s in sends})
    users, user_params = _in({s.user_id for s in sends})
    tries, try_params, counted_rows = _first_tries(sends) if count else ("", [], "")
    sql = (
        tries + f"SELECT 0, k.{qn('id')}, CAST(k.{qn('capabilities')} AS TEXT), "  # noqa: S608  (names from the models)
        f"k.{qn('rate_limit_per_minute')}, o.{qn('id')}, o.{qn('app_id')}, o.{qn('oa_id')} "
        f"FROM {qn(key_meta.db_table)} k "
        f"LEFT JOIN {qn(through.db_table)} t ON t.{qn('apikey_id')} = k.{qn('id')} "
        f"AND t.{qn('officialaccount_id')} {oas} "
        f"LEFT JOIN {qn(oa_meta.db_table)} o ON o.{qn('id')} = t.{qn('officialaccount_id')} "
        f"WHERE k.{qn('id')} {keys} AND k.{qn('revoked_at')} IS NULL "
        f"UNION ALL SELECT 1, {qn('oa_id')}, {qn('zalo_user_id')}, {qn('id')}, "
        f"CASE WHEN {qn('is_shadow')} THEN 1 ELSE 0 END, NULL, NULL "
        f"FROM {qn(ZaloPartnerLink._meta.db_table)} "
        f"WHERE {qn('oa_id')} {oas} AND {qn('zalo_user_id')} {users}" + counted_rows
    )
    active: set[int] = set()
    scopes: Scopes = {}
    links: Links = {}
    counted: set[int] = set()
    with connection.cursor() as cursor:
        cursor.execute(sql, [*try_params, *oa_params, *key_params, *oa_params, *user_params])
        for part, a, b, c, d, app, oa_id in cursor.fetchall():
            if part == 2:  # a key whose sends its first try counted
                counted.add(a)
                continue
            if part:  # a link: OA pk, Zalo user id, link pk, is shadow
                links[(a, b)] = (c, bool(d))
                continue
            active.add(a)  # a key: key pk, capabilities, rate limit, OA pk (or NULL)
            if d is not None:
                scopes[(a, d)] = (json.loads(b), c, int(app), str(oa_id))
    return active, scopes, links, counted


_KEPT: tuple[str, ...] = ("key_id", "idempotency_key", "request_hash", "created_at")
_KEPT += ("status_code", "response_body", "content_type")


@functools.lru_cache(maxsize=64)
def _kept_sql(rows_select: str) -> str:
    qn = connection.ops.quote_name
    return (
        f"INSERT INTO {qn(IdempotentRequest._meta.db_table)} ({', '.join(map(qn, _KEPT))}) "
        f"{rows_select} ON CONFLICT ({qn('key_id')}, {qn('idempotency_key')}) DO NOTHING "
        f"RETURNING {qn('key_id')}, {qn('idempotency_key')}"
    )


def _keep_answers(kept: list[tuple[Send, str]]) -> set[tuple[int, str]]:
    """INSERT each first send's Idempotency-Key row with its answer (the 202's text), in
    key order, so that two batches never wait on each other's keys in opposite orders:
    the (api key pk, Idempotency-Key) that another request took first (``ON CONFLICT DO
    NOTHING``; a concurrent first is waited for by the unique index until it commits).
    The rows as ``core.rowinsert.rows_select`` gives them: on PostgreSQL one JSON
    parameter, one SQL text for any batch."""
    if not kept:
        return set()
    now = timezone.now()
    rows = [
        [send.key.pk, send.idempotency_key, send.digest, now, 202, text, JSON]
        for send, text in sorted(kept, key=lambda k: (k[0].key.pk, k[0].idempotency_key))
    ]
    sql = _kept_sql(rowinsert.rows_select(IdempotentRequest, _KEPT, len(rows)))
    params = rowinsert.rows_params(_KEPT, rows)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        written = set(cursor.fetchall())
    return {(s.key.pk, s.idempotency_key) for s, _text in kept} - written


def _accept(
    sends: list[Send],
    *,
    taken: set[tuple[int, str]] | frozenset[tuple[int, str]] = frozenset(),
    counted: Counted | None = None,
) -> list[Outcome]:
    """Steps 0-4 of the module doc, in the caller's transaction. ``taken``: keys found
    taken by a try before; ``counted``: that try's count, when a rollback kept it."""
    outcomes: list[Outcome] = [ALONE] * len(sends)
    active, scopes, links, counted_first = _reads(sends, count=counted is None)
    if counted is None:
        counted = _count(sends, active, counted_first)
    for n, limited in counted.limited.items():
        outcomes[n] = limited
    ready: list[int] = []
    for n in counted.allowed:
        send = sends[n]
        scope = scopes.get((send.key.pk, send.oa_id))
        if scope is None or Capability.SEND_MESSAGES not in scope[0]:
            continue  # revoked, or narrowed: the request reads its key again
        # What the database says now, for this process's next requests too.
        send.key.capabilities, send.key.rate_limit_per_minute = scope[0], scope[1]
        link = links.get((send.oa_id, send.user_id))
        if link is not None and shadow_refused(
            is_shadow=link[1], business=True, confirm_unverified=send.confirm_unverified
        ):
            continue
        ready.append(n)
    # The first send of each Idempotency-Key not taken yet; the others repeat it.
    firsts: dict[tuple[int, str], int] = {}
    queued: list[int] = []
    for n in ready:
        send = sends[n]
        name = (send.key.pk, send.idempotency_key)
        if send.idempotency_key and (name in taken or firsts.setdefault(name, n) != n):
            outcomes[n] = REPLAY
        else:
            queued.append(n)
    items = []
    for n in queued:
        send = sends[n]
        _caps, _rate, app_id, oa_zalo_id = scopes[(send.key.pk, send.oa_id)]
        link = links.get((send.oa_id, send.user_id))
        items.append(
            Queued(
                oa_id=send.oa_id,
                app_id=app_id,
                oa_zalo_id=oa_zalo_id,
                user_id=send.user_id,
                link_id=link[0] if link else None,
                kind=send.kind,
                text=send.text,
                attachment=send.attachment,
                request_id=send.request_id,
            )
        )
    kept: list[tuple[Send, str]] = []
    for n, (message_id, event_id) in zip(queued, messages_queue(items), strict=True):
        # As sends.Accepted renders (the careful path's answer), field for field.
        text = json.dumps(
            {
                "event_id": event_id,
                "message_id": message_id,
                "processing_state": "queued",
                "zalo_state": "on_queue",
            },
            ensure_ascii=False,
        )
        outcomes[n] = (202, text, JSON)
        if sends[n].idempotency_key:
            kept.append((sends[n], text))
    if lost := _keep_answers(kept):
        raise _Taken(lost, counted)
    return outcomes


class Committer(GroupCommit[Send, Outcome]):
    """The sends' group commit (``core.groupcommit``, as ingest's webhook rows): each
    batch is stored by ``_accept`` in one transaction."""

    name = "API sends"

    def __init__(self, cap: int = BATCH_CAP, linger: float = LINGER_SECONDS) -> None:
        super().__init__(cap)
        self.linger_for = linger

    def linger_seconds(self) -> float:
        return self.linger_for

    def write(self, sends: list[Send]) -> list[Outcome]:
        return _store(sends)

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
