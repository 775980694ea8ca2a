"""The sandbox's ZBS memory: templates per OA, daily quotas, template sends, the reviewer.

Kept in memory only (like the mailbox): a world reset forgets it. Callers hold the
state's lock while they read or change it.
"""

import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_DAILY_QUOTA = 500  # the doc sample's dailyQuota (API.md §4.4); tests set their own
CREATE_LIMIT = 100  # template creates per day, and edits per day (API.md §4.3)
MAX_SENDS_PER_OA = 50_000


@dataclass
class Decision:
    """What the reviewer says about the next template it reviews."""

    decision: str  # "approve" | "reject"
    reason: str = ""


@dataclass
class ReviewConfig:
    delay: float | None = None  # seconds after a submit; None: only on command
    queue: list[Decision] = field(default_factory=list)


@dataclass
class ZnsSend:
    msg_id: str
    oa_id: str
    app_id: str
    channel: str  # "phone" | "uid"
    recipient: str  # the phone (84…) or the OA-scoped user id
    template_id: str
    template_data: dict[str, Any]
    tracking_id: str
    sent_time: int  # epoch ms, sandbox clock
    status: str = "sent"  # sent -> received
    delivery_time: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Quota:
    daily: int = DEFAULT_DAILY_QUOTA
    used: int = 0
    day: int = -1  # the Vietnam day the counter belongs to
    creates: int = 0
    edits: int = 0

    @property
    def remaining(self) -> int:
        return max(0, self.daily - self.used)


@dataclass
class ZnsBook:
    templates: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # oa -> id
    quotas: dict[str, Quota] = field(default_factory=dict)
    sends: dict[str, dict[str, ZnsSend]] = field(default_factory=dict)  # oa -> msg_id -> send
    by_tracking: dict[tuple[str, str], str] = field(default_factory=dict)  # (oa, tid) -> msg
    refusals: dict[str, int] = field(default_factory=dict)  # phone or user id -> error code
    review: ReviewConfig = field(default_factory=ReviewConfig)
    _ids: Any = field(default_factory=lambda: itertools.count(318_001))

    def new_template_id(self) -> str:
        return str(next(self._ids))

    def quota(self, oa_id: str, now: float) -> Quota:
        quota = self.quotas.setdefault(oa_id, Quota())
        day = int((now + 7 * 3600) // 86400)  # Zalo's day is Vietnam's (UTC+7)
        if quota.day != day:
            quota.day, quota.used, quota.creates, quota.edits = day, 0, 0, 0
        return quota

    def template(self, oa_id: str, template_id: str) -> dict[str, Any] | None:
        return self.templates.get(oa_id, {}).get(template_id)

    def find_template(self, template_id: str) -> tuple[str, dict[str, Any]] | None:
        for oa_id, per_oa in self.templates.items():
            if template_id in per_oa:
                return oa_id, per_oa[template_id]
        return None

    def record_send(self, send: ZnsSend) -> None:
        per_oa = self.sends.setdefault(send.oa_id, {})
        per_oa[send.msg_id] = send
        if send.tracking_id:
            self.by_tracking[(send.oa_id, send.tracking_id)] = send.msg_id
        while len(per_oa) > MAX_SENDS_PER_OA:
            del per_oa[next(iter(per_oa))]

    def find_send(self, msg_id: str) -> ZnsSend | None:
        for per_oa in self.sends.values():
            if msg_id in per_oa:
                return per_oa[msg_id]
        return None

    def all_sends(self, oa_id: str | None = None) -> list[ZnsSend]:
        oas = [oa_id] if oa_id else list(self.sends)
        return [s for o in oas for s in self.sends.get(o, {}).values()]

    def snapshot(self) -> dict[str, Any]:
        return {
            "templates": {oa: list(per.values()) for oa, per in self.templates.items()},
            "quotas": {
                oa: {"daily": q.daily, "used": q.used, "remaining": q.remaining}
                for oa, q in self.quotas.items()
            },
            "sends": [s.as_dict() for s in self.all_sends()],
            "refusals": dict(self.refusals),
            "review": {
                "delay": self.review.delay,
                "queue": [asdict(d) for d in self.review.queue],
            },
        }
