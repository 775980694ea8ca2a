"""Wake-ups for live pages: "something changed in OA n" (``core.wakeups``, on the
inbox's channel).

Pages never learn *what* changed from here: the stream re-reads the database when
woken (or after its tick anyway), so a lost wake-up costs at most one tick.
"""

from django.conf import settings

from zalohub.core.wakeups import LocalNotifier, RedisNotifier, notifier

__all__ = ["LocalNotifier", "RedisNotifier", "get_notifier", "notify", "reset_notifier"]


def get_notifier() -> LocalNotifier:
    return notifier(settings.INBOX_REDIS_CHANNEL)


def reset_notifier() -> None:
    """Forget the notifiers (tests switch between the in-process and Redis kinds)."""
    from zalohub.core import wakeups

    wakeups.reset()


def notify(oa_id: int) -> None:
    get_notifier().notify(oa_id)
