"""`zalohub sandbox`: serve the local stand-in for Zalo until Ctrl+C.

`zalohub sandbox simulate --hub URL [--sandbox URL] [--scenario chat|follow|son|all]`
plays simulated customers against a running hub (see zalohub/sandbox/simulate.py).
"""

import signal
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from zalohub.sandbox.server import SandboxServer
from zalohub.sandbox.simulate import SCENARIOS, run_scenario
from zalohub.sandbox.state import SandboxState
from zalohub.sandbox.webhooks import CORRUPTIONS, check_target
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
        actions = parser.add_subparsers(dest="action", required=False)
        simulate = actions.add_parser(
            "simulate", help="play simulated customers against a running hub"
        )
        simulate.add_argument("--hub", required=True, help="the hub, e.g. http://127.0.0.1:8000")
        simulate.add_argument(
            "--sandbox",
            default=None,
            help="the sandbox the hub uses (default: start a private one with the demo world)",
        )
        simulate.add_argument("--scenario", choices=SCENARIOS, default="chat")
        simulate.add_argument(
            "--duplicates", type=int, default=0, help="extra copies of every event"
        )
        simulate.add_argument(
            "--corrupt", choices=CORRUPTIONS, default=None, help="also send one forged event"
        )
        simulate.add_argument(
            "--time-factor",
            type=float,
            default=0.001,
            help="scales Zalo's retry schedule (1 = real: 30 s, 5 min, ...)",
        )
        simulate.add_argument(
            "--wait", type=float, default=30.0, help="seconds to wait for deliveries"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("action") == "simulate":
            self.simulate(options)
            return
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

    def simulate(self, options: dict[str, Any]) -> None:
        try:
            check_target(options["hub"])
            if options["sandbox"]:
                check_target(options["sandbox"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        private = None
        sandbox_url = options["sandbox"]
        if not sandbox_url:
            private = SandboxServer(SandboxState(world=demo_world()))
            sandbox_url = private.start()
            self.stdout.write(
                _("Started a private sandbox on %(url)s (demo world).") % {"url": sandbox_url}
            )
        try:
            report = run_scenario(
                sandbox_url=sandbox_url,
                hub=options["hub"],
                scenario=options["scenario"],
                duplicate=options["duplicates"],
                corrupt=options["corrupt"],
                time_factor=options["time_factor"],
                wait=options["wait"],
                say=self.stdout.write,
            )
        except (RuntimeError, ValueError, OSError, httpx.HTTPError) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if private is not None:
                private.stop()
        if not report.idle:
            self.stderr.write(_("Some deliveries were still being retried."))
