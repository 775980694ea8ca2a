"""A mixed stream of Zalo webhook payloads, signed the way Zalo signs them.

Every payload is unique (its own msg_id and timestamp), so each one is a new event and
never a redelivery. The mix, per cycle of 20 events: 10 customer text messages, 2 OA
echoes (messages sent from Zalo's chat tool), 3 delivery receipts, 2 seen receipts,
2 follows and 1 unfollow. Receipts point at outbound messages that the benchmark seeds
first (``Stream.outbound``), one per receipt, so every receipt really updates a row.
"""

import hashlib
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field

APP_ID = "2740017350155010001"
OA_ID = "4310500000000000001"
APP_SECRET = "bench-app-secret"
OA_SECRET = "bench-oa-secret-key"

CYCLE = (
    ["user_send_text"] * 10
    + ["oa_send_text"] * 2
    + ["user_received_message"] * 3
    + ["user_seen_message"] * 2
    + ["follow"] * 2
    + ["unfollow"]
)
# Events that create a Message row when processed (receipts update seeded ones).
CREATES_MESSAGE = {"user_send_text", "oa_send_text"}


@dataclass
class Stream:
    payloads: list[tuple[str, str]] = field(default_factory=list)  # (raw body, timestamp)
    outbound: list[tuple[str, str]] = field(default_factory=list)  # (msg_id, user id) to seed
    counts: Counter = field(default_factory=Counter)

    @property
    def messages_expected(self) -> int:
        """Message rows after processing: the seeded ones plus one per message event."""
        return len(self.outbound) + sum(self.counts[name] for name in CREATES_MESSAGE)


def user_id(index: int) -> str:
    return f"78{index:017d}"


def make_stream(n: int, *, tag: str, users: int, seed: int = 1) -> Stream:
    """n events over `users` conversations, in random user order (deterministic)."""
    rnd = random.Random(seed)
    base_ms = int(time.time() * 1000)
    stream = Stream()
    for i in range(n):
        name = CYCLE[i % len(CYCLE)]
        user = user_id(rnd.randrange(users))
        ts = str(base_ms + i)  # unique: the hash dedupe key of follows/seen differs
        msg_id = f"{tag}{i:x}"
        payload: dict[str, object]
        if name == "user_send_text":
            payload = {
                "app_id": APP_ID,
                "sender": {"id": user},
                "user_id_by_app": "55" + user[2:],
                "recipient": {"id": OA_ID},
                "event_name": name,
                "message": {"text": f"Xin chao, toi can bao gia #{i}", "msg_id": msg_id},
                "timestamp": ts,
            }
        elif name == "oa_send_text":
            payload = {
                "app_id": APP_ID,
                "sender": {"id": OA_ID, "admin_id": "9000000000000000001"},
                "recipient": {"id": user},
                "user_id_by_app": "55" + user[2:],
                "event_name": name,
                "message": {"text": f"Chao anh, ben em gui bao gia #{i}", "msg_id": msg_id},
                "timestamp": ts,
            }
        elif name in ("user_received_message", "user_seen_message"):
            stream.outbound.append((msg_id, user))
            message: dict[str, object] = (
                {"msg_id": msg_id, "delivery_time": ts}
                if name == "user_received_message"
                else {"msg_ids": [msg_id]}
            )
            payload = {
                "app_id": APP_ID,
                "sender": {"id": user},
                "user_id_by_app": "55" + user[2:],
                "recipient": {"id": OA_ID},
                "event_name": name,
                "timestamp": ts,
                "message": message,
            }
        else:  # follow / unfollow
            payload = {
                "oa_id": OA_ID,
                "follower": {"id": user},
                "user_id_by_app": "55" + user[2:],
                "event_name": name,
                "source": "oa_profile",
                "app_id": APP_ID,
                "timestamp": ts,
            }
        stream.payloads.append((json.dumps(payload, separators=(",", ":")), ts))
        stream.counts[name] += 1
    return stream


def signature(raw: str, timestamp: str) -> str:
    """X-ZEvent-Signature: "mac=" + sha256(app_id + raw body + timestamp + OA secret key)."""
    digest = hashlib.sha256(f"{APP_ID}{raw}{timestamp}{OA_SECRET}".encode()).hexdigest()
    return f"mac={digest}"


def http_requests(stream: Stream, *, host: str, port: int) -> list[bytes]:
    """Ready-to-send HTTP/1.1 keep-alive requests, signatures computed up front."""
    out = []
    for raw, ts in stream.payloads:
        body = raw.encode()
        head = (
            f"POST /zalo/webhook/{APP_ID}/ HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\n"
            "Content-Type: application/json\r\n"
            "User-Agent: zalohub-bench\r\n"
            f"X-ZEvent-Signature: {signature(raw, ts)}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        out.append(head.encode() + body)
    return out
