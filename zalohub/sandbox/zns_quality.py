"""The OA's ZNS send quality on the business host (``GET /quality``, API.md §4.3):
``oaCurrentQuality`` (the last 48 hours) and ``oa7dayQuality`` (the last 7 days), each
HIGH, MEDIUM, LOW or UNDEFINED. Zalo computes them from its users' reactions; the
sandbox answers what its control (``/_sandbox/zns/oa_quality``) last set, HIGH at first.
"""

from django.http import HttpRequest, HttpResponse

from zalohub.sandbox.reviewer import QUALITIES
from zalohub.sandbox.state import SandboxState
from zalohub.sandbox.tokens import AccessGrant
from zalohub.sandbox.zns import zns_api, zns_ok

DEFAULT = "HIGH"


def set_oa_quality(
    state: SandboxState, *, oa_id: str, current: str, week: str | None = None
) -> dict[str, str]:
    """Zalo rates the OA's sends: ``current`` (48 h), ``week`` (7 days; unchanged if None)."""
    for value in (current, week):
        if value is not None and value not in QUALITIES:
            raise ValueError(f"quality must be one of {QUALITIES}")
    with state.changing():
        if oa_id not in state.oas:
            raise ValueError(f"unknown OA {oa_id}")
        oa = state.oas[oa_id]
        oa["zns_quality"] = current
        if week is not None:
            oa["zns_quality_7d"] = week
        return _qualities(oa)


def _qualities(oa: dict) -> dict[str, str]:
    return {
        "oaCurrentQuality": str(oa.get("zns_quality") or DEFAULT),
        "oa7dayQuality": str(oa.get("zns_quality_7d") or DEFAULT),
    }


@zns_api("zns.quality")
def oa_quality(request: HttpRequest, state: SandboxState, grant: AccessGrant) -> HttpResponse:
    with state.lock:
        found = _qualities(state.oas.get(grant.oa_id, {}))
    # Zalo's sample answers this endpoint with a lower-case "success".
    return zns_ok(found, message="success")
