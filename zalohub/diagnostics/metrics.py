"""Gauges computed when Prometheus scrapes: the event queue, tokens and OA health.

Here, not in events or accounts, because diagnostics may read every app below it and no
lower app may import diagnostics. Each collector runs one cheap query: the queue's come
from the partial indexes on the states that still need work (never a count of every
processed event, which grows by millions a day).
"""

from collections.abc import Iterator

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from zalohub.accounts.models import OfficialAccount
from zalohub.diagnostics.models import HealthSnapshot
from zalohub.events.models import PENDING, ProcessingState, ZaloEvent

# The states the events_conversation partial index holds: counted without a table scan.
IN_FLIGHT = (*PENDING, ProcessingState.PROCESSING)
LEVELS = {"green": 0, "amber": 1, "red": 2}


class QueueCollector:
    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        by_state = GaugeMetricFamily(
            "zalohub_events",
            "Events still needing work, by Processing State (received, queued, processing).",
            labels=["state"],
        )
        counts = dict(
            ZaloEvent.objects.filter(processing_state__in=IN_FLIGHT)
            .values_list("processing_state")
            .annotate(n=Count("id"))
            .order_by()
        )
        for state in IN_FLIGHT:
            by_state.add_metric([str(state)], counts.get(state, 0))
        yield by_state

        oldest = ZaloEvent.objects.filter(processing_state__in=PENDING).aggregate(
            at=Min("received_at")
        )["at"]
        yield GaugeMetricFamily(
            "zalohub_oldest_pending_event_age_seconds",
            "Age of the oldest event waiting for a worker (0 when none waits).",
            value=(now - oldest).total_seconds() if oldest else 0.0,
        )
        # Lag: how long the longest-due event has been due without a worker taking it
        # (an event waiting out its retry backoff is not late).
        due = (
            ZaloEvent.objects.filter(processing_state__in=PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")
            .values_list("next_attempt_at", flat=True)
            .first()
        )
        yield GaugeMetricFamily(
            "zalohub_processing_lag_seconds",
            "How long the longest-due event has waited for a worker (0 when none is due).",
            value=max(0.0, (now - due).total_seconds()) if due else 0.0,
        )


class AccountCollector:
    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        info = GaugeMetricFamily(
            "zalohub_oa_info",
            "Each OA's name and status (join on oa).",
            labels=["oa", "name", "status"],
        )
        expiry = GaugeMetricFamily(
            "zalohub_oa_token_seconds_to_expiry",
            "Seconds until the OA's access token expires (negative: expired).",
            labels=["oa"],
        )
        for pk, name, status, expires in OfficialAccount.objects.values_list(
            "pk", "name", "status", "token_expires_at"
        ):
            info.add_metric([str(pk), name, status], 1)
            if expires is not None:
                expiry.add_metric([str(pk)], (expires - now).total_seconds())
        yield info
        yield expiry

        health = GaugeMetricFamily(
            "zalohub_oa_health_level",
            "Each OA's latest health check, 0 green, 1 amber, 2 red.",
            labels=["oa", "check", "category"],
        )
        for oa_id, checks in HealthSnapshot.objects.values_list("oa_id", "checks"):
            for check in checks or []:
                level = LEVELS.get(check.get("level", ""))
                if level is not None:
                    key = str(check.get("key", ""))
                    health.add_metric([str(oa_id), key, str(check.get("category") or "")], level)
        yield health
