"""The hub's own settings with a baseline's URLconf (the bench's servers that store nothing).

``BENCH_URLCONF`` names it (default ``bench.bare_urls``, the bare 200); the baselines that
hold their thread read ``BENCH_WAIT_SECONDS`` (``bench/wait_urls.py``,
``bench/ingest_floor_urls.py``).
"""

import os

from zalohub.settings import *  # noqa: F403

ROOT_URLCONF = os.environ.get("BENCH_URLCONF", "bench.bare_urls")
BENCH_WAIT_SECONDS = float(os.environ.get("BENCH_WAIT_SECONDS", "0"))
