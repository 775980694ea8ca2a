"""`zalohub report_facts [--check]`: derive the inbox reports' facts (issue 19) again from
the messages and the timeline, and the per-day summary from them; say how many rows
differed from what was written live, and correct them (with ``--check``: only say;
exit 1 when any differ)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from zalohub.inbox.report_facts import rebuild


class Command(BaseCommand):
    help = "Recompute the inbox reports' facts from the messages and the timeline."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check", action="store_true", help="only count the rows that differ; exit 1 if any"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        drift = rebuild(fix=not options["check"])
        self.stdout.write(
            _(
                "First responses: %(first)d, resolutions: %(resolved)d, agent replies "
                "added: %(added)d, changed: %(changed)d, removed: %(removed)d; "
                "per-day summary rows: %(summary)d."
            )
            % {
                "first": drift.first_responses,
                "resolved": drift.resolutions,
                "added": drift.replies_added,
                "changed": drift.replies_changed,
                "removed": drift.replies_removed,
                "summary": drift.summary_rows,
            }
        )
        if options["check"] and drift.total:
            raise CommandError(_("The report facts differ from the messages and the timeline."))
        if not options["check"]:
            self.stdout.write(_("Corrected.") if drift.total else _("Nothing to correct."))
