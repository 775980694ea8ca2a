"""The hub's settings for the ASGI runs: CONN_MAX_AGE=0 instead of the shipped 60.

Under ASGI Django runs each request's sync code in a thread of its own, so a persistent
connection is never reused: with CONN_MAX_AGE=60 every request opens a new PostgreSQL
connection and leaves it open for a minute, and a few hundred requests exhaust
max_connections ("too many clients"). 0 is Django's advice for ASGI without a pool.
"""

from zalohub.settings import *  # noqa: F403
from zalohub.settings import DATABASES

DATABASES["default"]["CONN_MAX_AGE"] = 0
