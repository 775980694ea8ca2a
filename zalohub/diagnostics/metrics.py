"""Gauges computed when Prometheus scrapes: the event queue, tokens and OA health.

Here, not in events or accounts, because diagnostics may read every app below it and no
lower app may import diagnostics. Each figure is one cheap query (the queue's: see
machine.py).
"""

from collections.abc import Iterator

from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from zalohub.accounts.models import OfficialAccount
from zalohub.diagnostics.machine import queue_figures
from zalohub.diagnostics.models import HealthSnapshot

LEVELS = {"green": 0, "amber": 1, "red": 2}


class QueueCollector:
    def collect(self) -> Iterator[Metric]:
        figures = queue_figures()
        by_state = GaugeMetricFamily(
            "zalohub_events",
            "Events still needing work, by Processing State (received, queued, processing).",
            labels=["state"],
        )
        for state, count in figures["events"].items():
            by_state.add_metric([state], count)
        yield by_state
        yield GaugeMetricFamily(
            "zalohub_oldest_pending_event_age_seconds",
            "Age of the oldest event waiting for a worker (0 when none waits).",
            value=figures["oldest_pending_age_seconds"],
        )
        yield GaugeMetricFamily(
            "zalohub_processing_lag_seconds",
            "How long the longest-due event has waited for a worker (0 when none is due).",
            value=figures["processing_lag_seconds"],
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
