"""Baselines: the hub's own webhook view, with its durable INSERT taken out.

The view is zalohub's, signature check, parsing and lookups included; only ``store``
(the group commit and its INSERT) is replaced, by a stand-in that answers a new id at
once or after holding the thread ``BENCH_WAIT_SECONDS`` (the GIL released, as a
request waiting for its commit). Against the bare 200 and the hub they split what ingest
costs a threaded WSGI server into its Python, its waiting and the commit itself:
``bench/ingest_cpu.py``. Nothing is written to the database.
"""

import itertools
import threading
import time

from django.conf import settings

from zalohub.events.ingestion import receive as ingest
from zalohub.urls import urlpatterns  # noqa: F401  (the hub's URLs, webhook view included)

WAIT_SECONDS = settings.BENCH_WAIT_SECONDS  # bench/bare_settings.py
_ids = itertools.count(1)
_lock = threading.Lock()


def _store(row: ingest.EventRow) -> int:
    if WAIT_SECONDS:
        time.sleep(WAIT_SECONDS)
    with _lock:
        return next(_ids)


ingest.store = _store
