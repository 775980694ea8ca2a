"""`zalohub sandbox`: serve the local stand-in for Zalo until Ctrl+C."""

import signal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from zalohub.sandbox.server import SandboxServer
from zalohub.sandbox.state import SandboxState
from zalohub.sandbox.world import demo_world


class Command(BaseCommand):
    help = "Serve the sandbox Zalo (OAuth, OA API) on a loopback address until Ctrl+C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="a loopback address")
        parser.add_argument("--port", type=int, default=8010)
        parser.add_argument(
            "--state",
            default=str(Path(settings.DATA_DIR) / "sandbox-state.json"),
            help="JSON file the sandbox keeps its world and tokens in (default: %(default)s)",
        )
        parser.add_argument("--memory", action="store_true", help="keep no state file")
        parser.add_argument(
            "--reset",
            action="store_true",
            help="discard the state file and start from the demo world",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = None if options["memory"] else Path(options["state"])
        if path is not None and options["reset"] and path.exists():
            path.unlink()
        server = SandboxServer(SandboxState(world=demo_world(), persist_path=path))
        try:
            url = server.start(host=options["host"], port=options["port"])
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(_("Sandbox Zalo is serving on %(url)s") % {"url": url})
        self.stdout.write(
            _("Hub base URLs: %(url)s/oauth, %(url)s/openapi, %(url)s/business") % {"url": url}
        )
        if path is not None:
            self.stdout.write(_("State file: %(path)s") % {"path": path})
        self.stdout.write(_("Press Ctrl+C to stop."))

        def _stop(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, _stop)
        try:
            while server.running:
                server.wait(timeout=1.0)
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
