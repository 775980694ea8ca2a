"""`zalohub worker` with every event handler replaced by a no-op (processing baseline).

Claims, leases, per-event savepoints and state updates are the real ones; only the work
of a handler (storing a message, advancing a receipt) is skipped. The ratio of the real
worker's rate to this one's is what the handlers cost on top of the queue.
"""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zalohub.settings")


def main() -> int:
    import django

    django.setup()
    from zalohub import cli
    from zalohub.events import queue
    from zalohub.events.handlers import Result
    from zalohub.events.models import Outcome

    def noop(event: object) -> Result:
        return Result(outcome=Outcome.RECORDED)

    queue.dispatch = noop
    return cli.worker(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
