"""What other apps hear from zbs (STYLE.md §3b): a template's status or quality moved, an
OA's or a template's quota changed. Subscribers (``on_template_changed``,
``on_quota_changed``, from an AppConfig.ready) run inside the transaction that wrote the
change; anything slow or remote belongs in ``transaction.on_commit``. With nobody
subscribed nothing is built."""

from collections.abc import Callable
from dataclasses import dataclass

from zalohub.zbs.models import Template


@dataclass(frozen=True)
class TemplateChange:
    template: Template
    what: str  # "status" or "quality"
    previous: str
    current: str


@dataclass(frozen=True)
class QuotaChange:
    oa_id: int
    template: Template | None  # None: the OA's daily quota
    daily_quota: int | None
    remaining_quota: int | None


TemplateChanged = Callable[[TemplateChange], None]
QuotaChanged = Callable[[QuotaChange], None]
TEMPLATE_SUBSCRIBERS: list[TemplateChanged] = []
QUOTA_SUBSCRIBERS: list[QuotaChanged] = []


def on_template_changed(subscriber: TemplateChanged) -> TemplateChanged:
    if subscriber not in TEMPLATE_SUBSCRIBERS:
        TEMPLATE_SUBSCRIBERS.append(subscriber)
    return subscriber


def on_quota_changed(subscriber: QuotaChanged) -> QuotaChanged:
    if subscriber not in QUOTA_SUBSCRIBERS:
        QUOTA_SUBSCRIBERS.append(subscriber)
    return subscriber


def template_changed(template: Template, what: str, previous: str, current: str) -> None:
    if previous != current:
        for subscriber in list(TEMPLATE_SUBSCRIBERS):
            subscriber(TemplateChange(template, what, previous, current))


def quota_changed(
    *, oa_id: int, template: Template | None = None, daily: int | None, remaining: int | None
) -> None:
    for subscriber in list(QUOTA_SUBSCRIBERS):
        subscriber(QuotaChange(oa_id, template, daily, remaining))
