"""Health snapshots per OA, incidents (one per check that turned red), webhook probes."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from zalohub.accounts.models import OfficialAccount
from zalohub.events.models import ErrorCategory, ZaloEvent


class Level(models.TextChoices):
    GREEN = "green", _("Healthy")
    AMBER = "amber", _("Warning")
    RED = "red", _("Broken")


CHECK_TITLES = {
    "token": _("Token / authorization"),
    "webhook": _("Webhook receiving"),
    "sends": _("Send failures"),
    "templates": _("Templates"),
    "recipients": _("Recipients"),
}

# Worst first: how cards and checks are ordered.
LEVEL_RANK = {Level.RED: 0, Level.AMBER: 1, Level.GREEN: 2}


class HealthSnapshot(models.Model):
    """The latest health of one OA: every check's level, summary and evidence."""

    oa = models.OneToOneField(
        OfficialAccount,
        on_delete=models.CASCADE,
        related_name="health",
        verbose_name=_("official account"),
    )
    level = models.CharField(_("health"), max_length=10, choices=Level.choices)
    checks = models.JSONField(_("checks"), default=list)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("OA health")
        verbose_name_plural = _("OA health")
        permissions = [("run_selftest", _("Can run the webhook self-test"))]

    def __str__(self) -> str:
        return f"{self.oa} {self.level}"


class Incident(models.Model):
    """A check that turned red, from then until it is not red any more: alerted once."""

    oa = models.ForeignKey(
        OfficialAccount,
        on_delete=models.CASCADE,
        related_name="incidents",
        verbose_name=_("official account"),
    )
    check_key = models.CharField(_("check"), max_length=20)
    category = models.CharField(
        _("error category"), max_length=20, choices=ErrorCategory.choices, blank=True
    )
    summary = models.TextField(_("summary"))
    next_step = models.TextField(_("next step"), blank=True)
    opened_at = models.DateTimeField(_("opened at"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    alerted_at = models.DateTimeField(_("alert sent at"), null=True, blank=True)
    recovery_alerted_at = models.DateTimeField(_("recovery notice sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ["-opened_at", "-id"]
        constraints = [
            # One open incident per OA and check: a red check alerts once, not every run.
            models.UniqueConstraint(
                fields=["oa", "check_key"],
                condition=Q(resolved_at__isnull=True),
                name="diagnostics_one_open_incident",
            )
        ]

    def __str__(self) -> str:
        return f"{self.oa} {self.check_key} {self.opened_at:%Y-%m-%d %H:%M}"

    @property
    def check_title(self) -> str:
        return str(CHECK_TITLES.get(self.check_key, self.check_key))

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class WebhookProbe(models.Model):
    """One self-test: a signed probe event POSTed to the hub's own public webhook URL."""

    oa = models.ForeignKey(
        OfficialAccount,
        on_delete=models.CASCADE,
        related_name="webhook_probes",
        verbose_name=_("official account"),
    )
    url = models.CharField(_("URL"), max_length=500)
    nonce = models.CharField(_("probe id"), max_length=64, unique=True)
    sent_at = models.DateTimeField(_("sent at"))
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    answer = models.TextField(_("answer"), blank=True)
    arrived = models.BooleanField(_("arrived"), default=False)
    event = models.ForeignKey(
        ZaloEvent,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("stored event"),
    )

    class Meta:
        verbose_name = _("webhook self-test")
        verbose_name_plural = _("webhook self-tests")
        ordering = ["-sent_at", "-id"]

    def __str__(self) -> str:
        return f"{self.oa} {self.sent_at:%Y-%m-%d %H:%M} {self.arrived}"
