"""The hub's own settings with a URLconf whose webhook view stores nothing (a baseline)."""

import os

from zalohub.settings import *  # noqa: F403

ROOT_URLCONF = "bench.ingest_floor_urls"
BENCH_STORE_WAIT_SECONDS = float(os.environ.get("BENCH_STORE_WAIT_SECONDS", "0"))
