"""The hub's own settings with a URLconf whose webhook view does nothing (the baseline)."""

from zalohub.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bare_urls"
