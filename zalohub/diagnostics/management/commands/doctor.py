"""`zalohub doctor [--oa ID] [--json]`: every OA's health and escalation summary; exits
non-zero when a check is red, so scripts and monitors can call it."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from zalohub.accounts.models import OfficialAccount
from zalohub.diagnostics.bundle import bundle_text, escalation_bundle
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
        if options["json"]:
            self.stdout.write(json.dumps(bundles, ensure_ascii=False, indent=2, default=str))
        else:
            if not bundles:
                self.stdout.write(_("No official account is set up yet."))
            for bundle in bundles:
                self.stdout.write(bundle_text(bundle))
                self.stdout.write("-" * 72)
        red = [b["oa"]["name"] for b in bundles if b["health"] == Level.RED]
        if red:
            raise CommandError(
                _("Red: %s. See the summaries above.") % ", ".join(red), returncode=1
            )
