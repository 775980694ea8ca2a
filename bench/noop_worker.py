"""`zalohub worker` with every event handler replaced by a no-op (processing baseline).

With ``--visible`` (bench/inbox_latency.py's baseline) a customer's text is still stored
as a message and rolled up into its conversation, which wakes the OA's live pages: the
least a handler can do for the message to be seen, and nothing more.

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
    import json

    from zalohub import cli
    from zalohub.events.models import Direction, Message, Outcome, ZaloEvent
    from zalohub.events.processing import batch, queue
    from zalohub.events.processing.handlers import Result
    from zalohub.inbox import rollup

    def noop(event: object) -> Result:
        return Result(outcome=Outcome.RECORDED)

    def visible(event: ZaloEvent) -> Result:
        if event.event_name == "user_send_text":
            payload = json.loads(event.raw_body)
            # bulk_create: no post_save, so none of the hub's message hooks run.
            [message] = Message.objects.bulk_create(
                [
                    Message(
                        oa_id=event.oa_id,
                        direction=Direction.INBOUND,
                        zalo_user_id=payload["sender"]["id"],
                        text=payload["message"]["text"],
                        zalo_msg_id=payload["message"]["msg_id"],
                    )
                ]
            )
            rollup.message_stored(message)
        return Result(outcome=Outcome.RECORDED)

    argv = sys.argv[1:]
    shows = "--visible" in argv
    queue.dispatch = visible if shows else noop
    batch.handling = lambda events: contextlib.nullcontext()
    return cli.worker([a for a in argv if a != "--visible"])


if __name__ == "__main__":
    sys.exit(main())
