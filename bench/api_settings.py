"""The hub's settings with the API benchmark's baseline endpoint beside its URLs."""

from zalohub.settings import *  # noqa: F403

ROOT_URLCONF = "bench.api_floor_urls"
