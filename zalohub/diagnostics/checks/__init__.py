"""Health checks per OA: each says green / amber / red, why, and where the proof is."""

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from zalohub.diagnostics.models import LEVEL_RANK, Level


@dataclass(frozen=True)
class Evidence:
    label: str
    url: str  # a path inside the hub's admin (filtered list or form)
    count: int | None = None


@dataclass
class CheckResult:
    key: str  # token | webhook | sends | templates | recipients
    title: str
    level: str
    summary: str
    category: str = ""
    next_step: str = ""
    facts: list[tuple[str, str]] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    available: bool = True  # False: nothing to check with (e.g. no templates app)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["facts"] = [list(f) for f in self.facts]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CheckResult":
        data = dict(data)
        data["facts"] = [tuple(f) for f in data.get("facts", [])]
        data["evidence"] = [Evidence(**e) for e in data.get("evidence", [])]
        return cls(**data)


def worst(levels: list[str]) -> str:
    return min(levels, key=lambda level: LEVEL_RANK[Level(level)], default=Level.GREEN)


def when(value: datetime | None) -> str:
    from django.utils import timezone

    if value is None:
        return "—"
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
