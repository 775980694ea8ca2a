"""`zalohub doctor [--oa ID] [--json]`: every OA's health and escalation summary, then the
machine's (the event queue, the periodic jobs, the data directory's disk); exits non-zero
when an OA's check is red, so scripts and monitors can call it."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from zalohub.accounts.models import OfficialAccount
from zalohub.diagnostics.bundle import bundle_text, escalation_bundle
from zalohub.diagnostics.machine import machine_state
from zalohub.diagnostics.models import Level


class Command(BaseCommand):
    help = "Check the health of the Official Accounts; exit 1 when something is red."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--oa", type=int, action="append", help="only this OA (its id)")
        parser.add_argument("--json", action="store_true", help="print JSON instead of text")

    def handle(self, *args: Any, **options: Any) -> None:
        oas = OfficialAccount.objects.select_related("app").order_by("pk")
        if options["oa"]:
            oas = oas.filter(pk__in=options["oa"])
            missing = set(options["oa"]) - set(oas.values_list("pk", flat=True))
            if missing:
                raise CommandError(
                    _("No official account with id %s.") % ", ".join(map(str, sorted(missing)))
                )
        bundles = [escalation_bundle(oa=oa) for oa in oas]
        machine = machine_state()
        if options["json"]:
            report = {"oas": bundles, "machine": machine}
            self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2, default=str))
        else:
            if not bundles:
                self.stdout.write(_("No official account is set up yet."))
            for bundle in bundles:
                self.stdout.write(bundle_text(bundle))
                self.stdout.write("-" * 72)
            self.stdout.write(machine_text(machine))
        red = [b["oa"]["name"] for b in bundles if b["health"] == Level.RED]
        if red:
            raise CommandError(
                _("Red: %s. See the summaries above.") % ", ".join(red), returncode=1
            )


def machine_text(machine: dict[str, Any]) -> str:
    queue = machine["queue"]
    lines = [
        _("Machine"),
        _("Events waiting: %(received)s received, %(queued)s queued, %(processing)s processing.")
        % queue["events"],
        _("Oldest pending event: %(age).0f s old; processing lag: %(lag).0f s.")
        % {"age": queue["oldest_pending_age_seconds"], "lag": queue["processing_lag_seconds"]},
    ]
    for job in machine["periodic_jobs"]:
        if job["last_finished_at"] is None:
            lines.append(_("Periodic job %(name)s: never finished.") % job)
        else:
            lines.append(
                _("Periodic job %(name)s: last finished %(when)s, overdue by %(overdue).0f s.")
                % {
                    "name": job["name"],
                    "when": job["last_finished_at"].isoformat(timespec="seconds"),
                    "overdue": job["overdue_seconds"],
                }
            )
    if not machine["periodic_jobs"]:
        lines.append(_("No periodic job has run yet: is a worker running?"))
    disk = machine["data_disk"]
    if disk:
        lines.append(
            _("Data directory %(path)s: %(free)s free of %(total)s.")
            % {
                "path": disk["path"],
                "free": filesizeformat(disk["free_bytes"]),
                "total": filesizeformat(disk["total_bytes"]),
            }
        )
    return "\n".join(lines)
