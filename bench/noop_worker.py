"""`zalohub worker` with every event handler replaced by a no-op (processing baseline).

Claims, leases, row locks and state updates are the real ones; only the work of the
handlers (the batch's reads and writes of links and messages, storing a message,
advancing a receipt) is skipped. The ratio of the real
worker's rate to this one's is what the handlers cost on top of the queue.
"""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zalohub.settings")


def main() -> int:
    import django

    django.setup()
    import contextlib

    from zalohub import cli
    from zalohub.events.models import Outcome
    from zalohub.events.processing import batch, queue
    from zalohub.events.processing.handlers import Result

    def noop(event: object) -> Result:
        return Result(outcome=Outcome.RECORDED)

    queue.dispatch = noop
    batch.handling = lambda events: contextlib.nullcontext()
    return cli.worker(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
