"""The inbox's text search, served by an index on each database instead of a scan.

- **PostgreSQL**: trigram GIN indexes (``pg_trgm``) on ``UPPER(text)`` of messages and
  on ``UPPER(name)`` / ``UPPER(display_name)`` of partners and their Zalo links: exactly
  the expression Django's ``icontains`` compares (``UPPER(col::text) LIKE UPPER(%s)``),
  so the lookup stays ``icontains`` and the planner answers it from the index.
- **SQLite**: an FTS5 table with the ``trigram`` tokenizer over the messages' text
  (external content, kept in step by triggers). A phrase of three characters or more
  matches any text that contains it, case folded (Vietnamese capitals too, where
  SQLite's ``LIKE`` folds only ASCII). Shorter queries fall back to ``icontains``.

Both are created by ``inbox`` migration 0004. On SQLite Django rebuilds a table to alter
it (and drops its triggers with it): ``ensure_message_fts`` runs after every migrate and
puts back what is missing, rebuilding the index from the table when it had to.

The conversation list takes the UNION of the conversation ids each kind of match finds
(partner name or Zalo name, user id, phone, a message), each from its own index: the
list then starts from those few ids (a semi-join), where an OR of the matches made it
read every conversation and test each (3.7 s at 1M messages with a correlated EXISTS,
still 1.5 s with the ORed matches as hashed subqueries on a loaded machine).
"""

from typing import Any

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from zalohub.events.models import Message
from zalohub.partners.models import Partner, PartnerPhone, ZaloPartnerLink
from zalohub.partners.phones import InvalidPhone, normalize_phone

FTS_TABLE = "inbox_message_fts"
# The trigram tokenizer indexes runs of three characters: a shorter phrase matches nothing.
FTS_MIN_CHARS = 3

# Fixed SQL (no f-strings: nothing here comes from outside), as migration 0004 runs it.
FTS_CREATE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS inbox_message_fts USING fts5("
    "text, content='events_message', content_rowid='id', tokenize='trigram')",
]
FTS_TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS inbox_message_fts_ai AFTER INSERT ON events_message BEGIN "
    "INSERT INTO inbox_message_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS inbox_message_fts_ad AFTER DELETE ON events_message BEGIN "
    "INSERT INTO inbox_message_fts(inbox_message_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER IF NOT EXISTS inbox_message_fts_au AFTER UPDATE OF text ON events_message "
    "BEGIN INSERT INTO inbox_message_fts(inbox_message_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); "
    "INSERT INTO inbox_message_fts(rowid, text) VALUES (new.id, new.text); END",
]
FTS_REBUILD = "INSERT INTO inbox_message_fts(inbox_message_fts) VALUES ('rebuild')"
FTS_OBJECTS = {FTS_TABLE, *(f"{FTS_TABLE}_{suffix}" for suffix in ("ai", "ad", "au"))}
FTS_MATCH = "SELECT rowid FROM inbox_message_fts WHERE inbox_message_fts MATCH %s"

# PostgreSQL: (index name, table, column) of each trigram index on UPPER(column).
TRIGRAM_INDEXES = [
    ("inbox_msg_text_trgm", "events_message", "text"),
    ("inbox_partner_name_trgm", "partners_partner", "name"),
    ("inbox_link_name_trgm", "partners_zalopartnerlink", "display_name"),
]


def ensure_message_fts(connection: BaseDatabaseWrapper) -> bool:
    """On SQLite, make sure the FTS table and its triggers exist; rebuild the index when
    anything had to be created (its rows would be missing or stale). True if it did."""
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        if {row[0] for row in cursor.fetchall()} >= FTS_OBJECTS:
            return False
        for sql in [*FTS_CREATE, *FTS_TRIGGERS, FTS_REBUILD]:
            cursor.execute(sql)
    return True


def after_migrate(sender: Any, *, using: str = "default", **kwargs: Any) -> None:
    from django.db import connections

    ensure_message_fts(connections[using])


def messages_containing(query: str) -> QuerySet[Message]:
    """Messages whose text contains ``query``, case folded, from the database's index."""
    if connection.vendor == "sqlite" and len(query) >= FTS_MIN_CHARS:
        phrase = '"' + query.replace('"', '""') + '"'
        return Message.objects.filter(
            pk__in=RawSQL(FTS_MATCH, (phrase,))  # noqa: S611 (fixed SQL, the phrase a parameter)
        )
    return Message.objects.filter(text__icontains=query)


def conversation_match(query: str) -> Q:
    """What a conversation must match to be found by ``query`` (already stripped): its
    id among the UNION of the ids each kind of match finds from its own index, so the
    list query starts from the few matches, never from every conversation."""
    from zalohub.inbox.models import Conversation

    by_link = Conversation.objects.values("pk")
    links = ZaloPartnerLink.objects.values("pk")
    partners = Partner.objects.filter(name__icontains=query).values("pk")
    # One member per index (an OR of two would read every link).
    found = [
        by_link.filter(partner_link_id__in=links.filter(partner_id__in=partners)),
        by_link.filter(partner_link_id__in=links.filter(display_name__icontains=query)),
    ]
    if query.isdigit():  # Zalo user ids are digits: nothing else can match one
        found.append(Conversation.objects.filter(zalo_user_id=query).values("pk"))
    digits = "".join(c for c in query if c.isdigit())
    if len(digits) >= 6:
        try:
            phone = normalize_phone(query)
        except InvalidPhone:
            phone = digits
        phones = PartnerPhone.objects.filter(number__contains=phone.lstrip("0"))
        owners = links.filter(partner_id__in=phones.values("partner_id"))
        found.append(by_link.filter(partner_link_id__in=owners))
    found.append(_conversations_saying(query))
    return Q(pk__in=found[0].union(*found[1:]))


def _conversations_saying(query: str) -> QuerySet[Any]:
    """The ids of the conversations with a message containing ``query``: the matching
    messages' users first (from the index), then the exact (OA, user) pair."""
    from zalohub.inbox.models import Conversation

    said = messages_containing(query)
    return (
        Conversation.objects.filter(zalo_user_id__in=said.values("zalo_user_id"))
        .filter(Exists(said.filter(oa_id=OuterRef("oa_id"), zalo_user_id=OuterRef("zalo_user_id"))))
        .values("pk")
    )
