"""The rows a run seeds, stores as ingest would, and counts afterwards."""

import json
import time

from bench.stages.common import PENDING_SQL, sql
from bench.stream import APP_ID, OA_ID, Stream


def reset_events() -> None:
    from bench.stages import scale

    if scale.prefilled_up_to:
        # Keep the history rows (--prefill): delete what the parts added, then the
        # messages and what points at them (no history row has a message).
        sql("DELETE FROM events_eventattempt")
        sql("DELETE FROM events_zaloevent WHERE id > %s", [scale.prefilled_up_to])
        referencing = sql(
            "SELECT DISTINCT conrelid::regclass::text FROM pg_constraint "
            "WHERE confrelid = 'events_message'::regclass AND contype = 'f' "
            "AND conrelid <> 'events_zaloevent'::regclass"
        )
        if referencing:
            sql(f"TRUNCATE {', '.join(t for (t,) in referencing)} CASCADE")
        sql("DELETE FROM events_message")
    else:
        sql("TRUNCATE events_eventattempt, events_zaloevent, events_message CASCADE")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE events_zaloevent")
        cursor.execute("VACUUM ANALYZE events_message")


def seed_outbound(stream: Stream) -> None:
    """The OA's sent messages that the stream's receipts point at."""
    from django.utils import timezone

    from zalohub.accounts.models import OfficialAccount
    from zalohub.events.models import Direction, Message, ZaloState

    oa = OfficialAccount.objects.get(oa_id=OA_ID)
    now = timezone.now()
    Message.objects.bulk_create(
        [
            Message(
                oa=oa,
                direction=Direction.OUTBOUND,
                zalo_user_id=user,
                text="seeded outbound message",
                zalo_msg_id=msg_id,
                zalo_state=ZaloState.SENT,
                sent_at=now,
                created_at=now,
            )
            for msg_id, user in stream.outbound
        ],
        batch_size=2000,
    )


def insert_events(stream: Stream) -> float:
    """Store the stream as ingest would (same fields), in one transaction; its commit time."""
    from django.db import transaction

    from zalohub.accounts.models import OfficialAccount, ZaloApp
    from zalohub.events.models import ZaloEvent
    from zalohub.zalo import webhook

    app = ZaloApp.objects.get(app_id=APP_ID)
    oa = OfficialAccount.objects.get(oa_id=OA_ID)
    rows = []
    for raw, _ts in stream.payloads:
        wire = webhook.head(json.loads(raw))
        oa_id, user_id = wire.oa_id, wire.user_id
        rows.append(
            ZaloEvent(
                app=app,
                oa=oa if oa_id == OA_ID else None,
                event_name=wire.name,
                dedupe_key=wire.dedupe_key(raw.encode()),
                raw_body=raw,
                headers={"content-type": "application/json"},
                signature_variant="app_id",
                event_time=wire.time,
                zalo_user_id=user_id,
                conversation_key=f"{oa_id}:{user_id}" if user_id else "",
            )
        )
    with transaction.atomic():
        ZaloEvent.objects.bulk_create(rows, batch_size=2000)
    committed = time.time()
    sql("ANALYZE events_zaloevent")
    return committed


def pending_count() -> int:
    return sql(f"SELECT count(*) FROM events_zaloevent WHERE {PENDING_SQL}")[0][0]


def state_counts() -> dict[str, int]:
    return dict(
        sql("SELECT processing_state, count(*) FROM events_zaloevent GROUP BY processing_state")
    )


def message_count() -> int:
    return sql("SELECT count(*) FROM events_message")[0][0]


def doubled_checks() -> dict[str, int]:
    """Counts that must all be 0: nothing stored or applied twice."""
    return {
        "msg_id stored twice": sql(
            "SELECT count(*) FROM (SELECT 1 FROM events_message WHERE zalo_msg_id <> '' "
            "GROUP BY oa_id, zalo_msg_id HAVING count(*) > 1) d"
        )[0][0],
        "message row shared by 2 message events": sql(
            "SELECT count(*) FROM (SELECT 1 FROM events_zaloevent WHERE message_id IS NOT NULL "
            "AND event_name IN ('user_send_text', 'oa_send_text') "
            "GROUP BY message_id HAVING count(*) > 1) d"
        )[0][0],
        "events processed more than once (attempts > 1)": sql(
            "SELECT count(*) FROM events_zaloevent WHERE attempts > 1"
        )[0][0],
        "failed attempts logged": sql("SELECT count(*) FROM events_eventattempt")[0][0],
    }
