"""Health checks per OA: each says green / amber / red, why, and where the proof is."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from zalohub.core.stored_text import Reason
from zalohub.diagnostics.models import LEVEL_RANK, Level
from zalohub.diagnostics.registry import check_title
from zalohub.diagnostics.text import loaded, msg, stored

# (name, value): a value may be a stored failure's Reason, rendered per reader.
Fact = tuple[str, str | Reason]


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
    facts: list[Fact] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """For storage: every text as its msgid and parameters (text.py), so that each
        reader sees it in their own language."""
        return {
            "key": self.key,
            "title": stored(self.title),
            "level": self.level,
            "summary": stored(self.summary),
            "category": self.category,
            "next_step": stored(self.next_step),
            "facts": [[stored(name), stored(value)] for name, value in self.facts],
            "evidence": [
                {"label": stored(e.label), "url": e.url, "count": e.count} for e in self.evidence
            ],
        }

    def as_text(self) -> dict[str, Any]:
        """For a reader now (the escalation bundle): every text in the active language."""
        return {
            "key": self.key,
            "title": str(self.title),
            "level": self.level,
            "summary": str(self.summary),
            "category": self.category,
            "next_step": str(self.next_step),
            "facts": [[str(name), str(value)] for name, value in self.facts],
            "evidence": [
                {"label": str(e.label), "url": e.url, "count": e.count} for e in self.evidence
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CheckResult":
        """A stored check in the active language (rows stored as text before are shown
        as they were written)."""
        title = check_title(data["key"])
        return cls(
            key=data["key"],
            title=msg(title) if title else loaded(data.get("title", "")),
            level=data["level"],
            summary=loaded(data.get("summary", "")),
            category=data.get("category", ""),
            next_step=loaded(data.get("next_step", "")),
            # A fact's value may be a failure reason copied from a row (an OA's last
            # error): shown in the reader's language, like the rest.
            facts=[(loaded(f[0]), loaded(f[1])) for f in data.get("facts", [])],
            evidence=[
                Evidence(loaded(e["label"]), e["url"], e.get("count"))
                for e in data.get("evidence", [])
            ],
        )


def worst(levels: list[str]) -> str:
    return min(levels, key=lambda level: LEVEL_RANK[Level(level)], default=Level.GREEN)


def when(value: datetime | None) -> str:
    from django.utils import timezone

    if value is None:
        return "—"
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
