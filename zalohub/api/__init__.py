"""The integration API (``/api/v1/``): keys, idempotency, and thin endpoints over the
services of the apps below it."""
