"""The hub's own settings with a URLconf whose webhook view only waits (a baseline)."""

import os

from zalohub.settings import *  # noqa: F403

ROOT_URLCONF = "bench.wait_urls"
BENCH_WAIT_SECONDS = float(os.environ.get("BENCH_WAIT_SECONDS", "0.002"))
