"""The checks an OA's health is made of (STYLE.md §3b): each registers itself with
``register_check``, and ``checks.run.oa_health`` runs them in the order of their
position, so nothing lists them twice.

Diagnostics sits above the apps it looks at (DESIGN.md), so a check reads their models
directly: the templates check reads zbs's. An app above diagnostics registers its own
checks the same way, from its ``AppConfig.ready()``. This module imports nothing of
diagnostics at run time, so models and admin may read the titles from here.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils.functional import Promise

if TYPE_CHECKING:
    from zalohub.accounts.models import OfficialAccount
    from zalohub.diagnostics.checks import CheckResult
    from zalohub.diagnostics.checks.sends import FailureTally
    from zalohub.diagnostics.checks.webhook import WrongSecret
    from zalohub.diagnostics.models import WebhookProbe


@dataclass(frozen=True)
class Inputs:
    """What one health run reads once and hands to every check of the OA."""

    oa: "OfficialAccount"
    now: datetime
    tally: "FailureTally"  # outbound failures of the last 24 h, by category
    probe: "WebhookProbe | None"  # the latest self-test, settled first
    wrong: "WrongSecret | None"  # evidence that the OA secret key is not Zalo's


CheckFunction = Callable[[Inputs], "CheckResult"]


@dataclass(frozen=True)
class Check:
    key: str  # stored in snapshots and incidents: never renamed
    title: str | Promise  # gettext_lazy: shown in each reader's language
    position: int  # lower runs and is listed first
    run: CheckFunction


CHECKS: dict[str, Check] = {}


def register_check(
    key: str, *, title: str | Promise, position: int
) -> Callable[[CheckFunction], CheckFunction]:
    """Run the decorated function, ``(Inputs) -> CheckResult``, in every OA's health."""

    def decorator(func: CheckFunction) -> CheckFunction:
        known = CHECKS.get(key)
        if known is not None and known.run is not func:
            raise ValueError(f"the health check {key!r} is already registered")
        CHECKS[key] = Check(key=key, title=title, position=position, run=func)
        return func

    return decorator


def registered() -> list[Check]:
    return sorted(CHECKS.values(), key=lambda check: (check.position, check.key))


def check_title(key: str) -> str | Promise | None:
    check = CHECKS.get(key)
    return check.title if check else None
