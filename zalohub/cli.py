"""The `zalohub` console command.

zalohub demo       everything in one process: SQLite, worker, sandbox Zalo, sample data
zalohub serve      the web tier (webhooks, pages, live inbox streams); --workers N
zalohub worker     a background worker (tasks + periodic jobs); run as many as you like
zalohub sandbox    the local stand-in for Zalo, on loopback
zalohub <cmd>      any Django management command (migrate, createsuperuser, check, ...)
"""

import argparse
import os
import signal
import sys


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zalohub.settings")
    import django

    django.setup()


def demo(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="zalohub demo", description=demo.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--sandbox-port", type=int, default=8010)
    args = parser.parse_args(argv)
    # The demo talks to its own sandbox; these must be set before settings load.
    os.environ.setdefault("ZALOHUB_PUBLIC_URL", f"http://{args.host}:{args.port}")
    os.environ.setdefault("ZALOHUB_SANDBOX_URL", f"http://{args.host}:{args.sandbox_port}")
    os.environ.setdefault("ZALO_MODE", "sandbox")
    # The demo is the embedded shape, the one that may keep generated keys in its data
    # directory (with SQLite; with DATABASE_URL set the keys must be given).
    os.environ.setdefault("ZALOHUB_DEBUG", "1")
    _setup_django()

    from django.conf import settings
    from django.core.management import call_command

    from zalohub.api.demo import demo_api_key
    from zalohub.core.worker import WorkerProcess
    from zalohub.demo import seed_demo
    from zalohub.sandbox.customers import configure_webhooks
    from zalohub.sandbox.server import SandboxServer
    from zalohub.sandbox.state import SandboxState
    from zalohub.sandbox.world import demo_world

    call_command("migrate", interactive=False, verbosity=0)
    credentials = seed_demo()
    api_key = demo_api_key()
    state_path = settings.DATA_DIR / "sandbox-state.json"
    sandbox = SandboxServer(SandboxState(world=demo_world(), persist_path=state_path))
    sandbox_url = sandbox.start(host=args.host, port=args.sandbox_port)
    hub = f"http://{args.host}:{args.port}"
    # The sandbox plays Zalo's console too: its apps' webhooks point at this hub.
    configure_webhooks(sandbox.state, hub=hub)
    # The demo's ERP: a receiver of the hub's outbound webhooks, subscribed to every event.
    from zalohub.webhooks.demo_receiver import (
        DemoReceiver,
        demo_subscription,
        subscription_secrets,
    )

    receiver_url = f"http://{args.host}:{args.port + 20}/webhooks"
    receiver = DemoReceiver(subscription_secrets(receiver_url))
    receiver.start(host=args.host, port=args.port + 20)
    demo_subscription(receiver_url)
    worker = WorkerProcess()
    worker.start()
    print(
        f"\n  zalohub demo is running: {hub}/admin/\n"
        f"  log in as {credentials[0]} / {credentials[1]}\n"
        f"  sandbox Zalo: {sandbox_url}   data: {settings.DATA_DIR}\n"
        f"  API: {hub}/api/v1/docs   key: {api_key}\n"
        f"  outbound webhooks go to the demo ERP: {receiver_url}\n"
        "  Customers write to the OAs with:\n"
        f"    ./run sandbox simulate --hub {hub} --sandbox {sandbox_url}\n"
        "  Press Ctrl+C to stop.\n",
        flush=True,
    )
    try:
        # The production web tier's shape (`zalohub serve`), in this process.
        serve(["--host", args.host, "--port", str(args.port)])
    finally:
        worker.stop()
        receiver.stop()
        sandbox.stop()
    return 0


def serve(argv: list[str]) -> int:
    from zalohub.serving.command import serve as run

    return run(argv)


def worker(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="zalohub worker")
    parser.add_argument("--threads", type=int, default=None, help="task threads (default 2)")
    parser.add_argument("--no-scheduler", action="store_true", help="do not run periodic jobs")
    args = parser.parse_args(argv)
    _setup_django()
    from zalohub.core.worker import WorkerProcess

    process = WorkerProcess(threads=args.threads, scheduler=not args.no_scheduler)

    def _graceful(signum: int, frame: object) -> None:
        process.stop()

    signal.signal(signal.SIGTERM, _graceful)
    signal.signal(signal.SIGINT, _graceful)
    process.start()
    process.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    from django.core.exceptions import ImproperlyConfigured

    try:
        return _run_command(list(sys.argv[1:] if argv is None else argv))
    except ImproperlyConfigured as exc:
        # A setting is missing or malformed (the message names the variable): say so in
        # one line, not under a traceback an operator has to read from the bottom.
        print(f"zalohub: {exc}", file=sys.stderr)
        return 2


def _run_command(argv: list[str]) -> int:
    command = argv[0] if argv else "help"
    if command == "demo":
        return demo(argv[1:])
    if command == "worker":
        return worker(argv[1:])
    if command == "serve":
        return serve(argv[1:])
    if command in {"help", "-h", "--help"}:
        print(__doc__)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zalohub.settings")
        from django.core.management import execute_from_command_line

        execute_from_command_line(["zalohub", "help"])
        return 0
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zalohub.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["zalohub", *argv])
    return 0


if __name__ == "__main__":
    sys.exit(main())
