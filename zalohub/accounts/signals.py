"""A public hook for the apps above accounts (which it never imports): something that may
have fixed an OA's problems just happened. Diagnostics listens and recomputes the OA's
health at once, so a fixed OA's alert goes without waiting for the periodic run.

Sent (synchronously, inside the caller's transaction) with ``oa_id`` and ``reason``:
``authorized`` (a token was stored after a failure or on authorization), ``quota`` (the
ZBS quota was read or reset), ``sent`` (Zalo accepted a send: an outage is over)."""

from django.dispatch import Signal

oa_fixed = Signal()


def announce_fix(*, oa_id: int | None, reason: str) -> None:
    if oa_id is not None:
        oa_fixed.send(sender=None, oa_id=oa_id, reason=reason)
