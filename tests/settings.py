"""Settings of the test suite: zalohub's own, plus what a test run provides.

Production settings stay untouched; only what differs for tests is here.
"""

import os

from cryptography.fernet import Fernet

# The suite runs outside the embedded shape (DEBUG off; PostgreSQL in half of `./run
# test`), where the hub refuses to start without keys. `./run test` exports real ones;
# a bare `pytest` gets one here. Through the environment, so that the hub processes a
# test starts (a worker, the sandbox command) read the same key.
os.environ.setdefault("ZALOHUB_ENCRYPTION_KEYS", Fernet.generate_key().decode())

from zalohub.settings import *  # noqa: F403

# Users are made for nearly every test: the full-strength hasher (PBKDF2, a million
# rounds) would spend a large part of the suite's time on them.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Every test that connects an OA would otherwise load the sandbox's history in the
# background (a transactional test's worker runs it): tests/events/test_history.py turns
# it on where it is what is tested.
HISTORY_ON_CONNECT = False
