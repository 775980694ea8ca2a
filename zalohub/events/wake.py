"""New inbound events committed: a worker waiting for work claims them at once, instead of
at the end of its poll (``WORKER_POLL_SECONDS``), which a stream of webhooks would
otherwise add, on average half of it, to every event's time to be handled.

Ingest says so once per committed batch (``ingestion.store``); a worker's dispatcher waits
on it when the queue was empty (``events.tasks``). Across processes it needs Redis
(``core.wakeups``); without it each process hears only its own ingest (the demo's
built-in worker does), and the others poll as before.
"""

from django.conf import settings

from zalohub.core.wakeups import LocalNotifier, notifier


def queue_news() -> LocalNotifier:
    return notifier(settings.EVENTS_REDIS_CHANNEL)


def work_committed() -> None:
    queue_news().notify(0)
