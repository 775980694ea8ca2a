"""Duplicate detection: candidate pairs with evidence and a score, for the admin's queue.

Each rule is one grouped query: a first pass keeps only the values held more than once,
then only those groups are aggregated, so the scan is a few passes over the tables
however many partners there are (bench/partners_duplicates.py measures it):
- the same phone on two partners (a phone shared through Zalo scores highest);
- the same ``user_id_by_app`` of one app linked to two partners (Zalo says same person);
- the same email;
- the same name, compared only inside its blocking key (``name_key``) and only in small
  blocks: a common name alone is weak evidence and a large block is no evidence at all.
Blocked values (placeholder phones, test ids) never count.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from django.conf import settings
from django.db import connection

from zalohub.partners.models import DuplicateSuggestion
from zalohub.partners.phones import is_blocked_phone, is_blocked_user_id

# (rule, SQL giving rows of (value, verified, partner ids) for groups of 2+ partners);
# AGG_IDS becomes the vendor's aggregate of the partner id column.
_RULES: dict[str, str] = {
    "same_phone": """
        SELECT pp.number, MAX(CASE WHEN pp.verified THEN 1 ELSE 0 END), AGG_IDS
        FROM partners_partnerphone pp JOIN partners_partner p ON p.id = pp.partner_id
        WHERE p.merged_into_id IS NULL AND pp.number IN (
            SELECT number FROM partners_partnerphone GROUP BY number HAVING COUNT(*) > 1)
        GROUP BY pp.number
        HAVING COUNT(DISTINCT pp.partner_id) BETWEEN 2 AND %s""",
    "same_user_id_by_app": """
        SELECT l.app_id || ':' || l.user_id_by_app, 1, AGG_IDS
        FROM partners_zalopartnerlink l JOIN partners_partner p ON p.id = l.partner_id
        WHERE l.user_id_by_app <> '' AND p.merged_into_id IS NULL
        GROUP BY l.app_id, l.user_id_by_app
        HAVING COUNT(DISTINCT l.partner_id) BETWEEN 2 AND %s""",
    "same_email": """
        SELECT LOWER(p.email), 0, AGG_IDS
        FROM partners_partner p
        WHERE p.merged_into_id IS NULL AND LOWER(p.email) IN (
            SELECT LOWER(email) FROM partners_partner WHERE email <> ''
            GROUP BY LOWER(email) HAVING COUNT(*) > 1)
        GROUP BY LOWER(p.email)
        HAVING COUNT(*) BETWEEN 2 AND %s""",
    "similar_name": """
        SELECT p.name_key, 0, AGG_IDS
        FROM partners_partner p
        WHERE NOT p.is_shadow AND p.merged_into_id IS NULL AND p.name_key IN (
            SELECT name_key FROM partners_partner WHERE name_key <> ''
            GROUP BY name_key HAVING COUNT(*) > 1)
        GROUP BY p.name_key
        HAVING COUNT(*) BETWEEN 2 AND %s""",
}
# Partner id column of each rule, for the aggregate.
_ID_COLUMN = {
    "same_phone": "pp.partner_id",
    "same_user_id_by_app": "l.partner_id",
    "same_email": "p.id",
    "similar_name": "p.id",
}
SCORES = {"same_user_id_by_app": 95, "same_phone": 80, "same_email": 70, "similar_name": 30}
VERIFIED_PHONE_BONUS = 10


@dataclass
class ScanResult:
    groups: dict[str, int] = field(default_factory=dict)
    pairs: int = 0
    created: int = 0
    skipped_blocked: int = 0


def _aggregate(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"ARRAY_AGG(DISTINCT {column})"
    return f"GROUP_CONCAT(DISTINCT {column})"


def _ids(raw: Any) -> list[int]:
    if isinstance(raw, list):
        return sorted(int(i) for i in raw)
    return sorted(int(i) for i in str(raw).split(","))


def _blocked(rule: str, value: str) -> bool:
    if rule == "same_phone":
        return is_blocked_phone(value)
    if rule == "same_user_id_by_app":
        return is_blocked_user_id(value.split(":", 1)[-1])
    return False


def duplicates_scan() -> ScanResult:
    """Find candidate pairs and add the new ones to the queue (existing ones stay)."""
    result = ScanResult()
    pairs: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    limit = settings.PARTNER_DUPLICATE_MAX_BLOCK
    with connection.cursor() as cursor:
        for rule, sql in _RULES.items():
            cursor.execute(sql.replace("AGG_IDS", _aggregate(_ID_COLUMN[rule])), [limit])
            groups = 0
            for value, verified, ids in cursor.fetchall():
                if _blocked(rule, str(value)):
                    result.skipped_blocked += 1
                    continue
                groups += 1
                reason = {"kind": rule, "value": str(value), "verified": bool(verified)}
                for pair in combinations(_ids(ids), 2):
                    pairs[pair].append(reason)
            result.groups[rule] = groups
    suggestions = []
    for (first, second), reasons in pairs.items():
        score = max(
            SCORES[r["kind"]]
            + (VERIFIED_PHONE_BONUS if r["kind"] == "same_phone" and r["verified"] else 0)
            for r in reasons
        )
        score = min(100, score + 5 * (len(reasons) - 1))  # independent evidence adds up
        suggestions.append(
            DuplicateSuggestion(first_id=first, second_id=second, score=score, reasons=reasons)
        )
    result.pairs = len(suggestions)
    before = DuplicateSuggestion.objects.count()
    DuplicateSuggestion.objects.bulk_create(suggestions, batch_size=2000, ignore_conflicts=True)
    result.created = DuplicateSuggestion.objects.count() - before
    return result
