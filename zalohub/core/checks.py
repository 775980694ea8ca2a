"""`zalohub check --deploy`: what Django's own checks cannot know about a deployment."""

import ipaddress
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Info, Warning, register


def _is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@register("zalohub", deploy=True)
def check_public_url(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    if settings.ZALO_MODE == "live" and _is_loopback(settings.PUBLIC_URL):
        return [
            Error(
                f"ZALO_MODE=live but ZALOHUB_PUBLIC_URL is {settings.PUBLIC_URL}, an address "
                "on this machine: Zalo cannot deliver webhooks to it, and the OAuth "
                "callback and webhook URLs shown to paste into Zalo's console are wrong.",
                hint="Set ZALOHUB_PUBLIC_URL to the https address Zalo reaches this hub at.",
                id="zalohub.E001",
            )
        ]
    return []


@register("zalohub", deploy=True)
def check_redis(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    if settings.WEB_PROCESSES > 1 and not settings.REDIS_URL:
        return [
            Warning(
                f"{settings.WEB_PROCESSES} web processes (ZALOHUB_WEB_PROCESSES or "
                "WEB_CONCURRENCY) and no ZALOHUB_REDIS_URL: an inbox page hears at once only "
                "about changes made in its own process; the others reach it by polling.",
                hint="Set ZALOHUB_REDIS_URL=redis://host:6379/0 (live updates between "
                "processes, and rate limits without a database write per call).",
                id="zalohub.W002",
            )
        ]
    return []


@register("zalohub", deploy=True)
def check_keys(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    found: list[CheckMessage] = []
    if settings.ENCRYPTION_KEYS_GENERATED:
        found.append(
            Error(
                "ZALOHUB_ENCRYPTION_KEYS is not set: secrets at rest are encrypted with a "
                f"key generated in {settings.DATA_DIR}, which no other host has and which "
                "is lost with that directory.",
                hint="Set ZALOHUB_ENCRYPTION_KEYS to the same Fernet key(s) on every host "
                "(the generated one first, to keep reading what it encrypted).",
                id="zalohub.E003",
            )
        )
    if settings.SECRET_KEY_GENERATED:
        found.append(
            Warning(
                "ZALOHUB_SECRET_KEY is not set: Django's secret key was generated in "
                f"{settings.DATA_DIR}; sessions and CSRF tokens signed on one host are "
                "refused by any other.",
                hint="Set ZALOHUB_SECRET_KEY to the same long random value on every host.",
                id="zalohub.W004",
            )
        )
    return found


@register("zalohub", deploy=True)
def check_mail(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    backend = settings.MAILERS.get("default", {}).get("BACKEND", "")
    if backend == "zalohub.core.mail.LogOnlyEmailBackend":
        return [
            Info(
                "ZALOHUB_EMAIL_HOST is not set: Diagnostics alerts are shown in the app and "
                "logged, not mailed.",
                hint="Set ZALOHUB_EMAIL_HOST (and the other ZALOHUB_EMAIL_* settings).",
                id="zalohub.I005",
            )
        ]
    return []
