"""Health snapshots per OA, incidents (one per check that turned red), webhook probes."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from zalohub.accounts.models import OfficialAccount
from zalohub.diagnostics.registry import check_title
from zalohub.diagnostics.text import loaded
from zalohub.events.models import ErrorCategory, ZaloEvent


class Level(models.TextChoices):
    GREEN = "green", _("Healthy")
    AMBER = "amber", _("Warning")
    RED = "red", _("Broken")


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
    # The text as it was first written (rows from before `texts` show only this).
    summary = models.TextField(_("summary"))
    next_step = models.TextField(_("next step"), blank=True)
    # {"summary": ..., "next_step": ...} as msgids and parameters (text.py), rendered in
    # each reader's language.
    texts = models.JSONField(_("texts"), default=dict, blank=True)
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
        return f"{self.oa} {self.check_title} {self.opened_at:%Y-%m-%d %H:%M}"

    @property
    def check_title(self) -> str:
        return str(check_title(self.check_key) or self.check_key)

    def _text(self, name: str) -> str:
        source = (self.texts or {}).get(name)
        return loaded(source) if source else getattr(self, name)

    @property
    def summary_text(self) -> str:
        """The summary in the reader's language."""
        return self._text("summary")

    @property
    def next_step_text(self) -> str:
        return self._text("next_step")


class WebhookProbe(models.Model):
    """One self-test: Zalo's side is asked to deliver a test event to the webhook URL it
    holds for the app, and the hub looks for it (``zalo_delivery``); where Zalo offers no
    such request (live Zalo), the last genuine delivery from Zalo is looked for instead
    (``recent_delivery``). Never the hub posting to itself: that proves nothing about Zalo."""

    class Method(models.TextChoices):
        ZALO_DELIVERY = "zalo_delivery", _("Test delivery asked of Zalo")
        RECENT_DELIVERY = "recent_delivery", _("Last genuine delivery from Zalo")

    oa = models.ForeignKey(
        OfficialAccount,
        on_delete=models.CASCADE,
        related_name="webhook_probes",
        verbose_name=_("official account"),
    )
    method = models.CharField(
        _("what was checked"), max_length=20, choices=Method.choices, default=Method.ZALO_DELIVERY
    )
    url = models.CharField(_("URL"), max_length=500)
    nonce = models.CharField(_("probe id"), max_length=64, unique=True)
    sent_at = models.DateTimeField(_("sent at"))
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    answer = models.TextField(_("answer"), blank=True)  # raw detail (Zalo's or the hub's)
    # The outcome in words, as msgid and parameters (text.py), rendered per reader.
    result = models.JSONField(_("result"), default=dict, blank=True)
    arrived = models.BooleanField(_("arrived"), default=False)
    # Asked Zalo to deliver and not settled yet: the hub may be serving one request at a
    # time (ASGI runs sync views in one thread), so the self-test never waits for its own
    # delivery; the next health computation settles it (probe.probe_settle).
    pending = models.BooleanField(_("waiting for Zalo"), default=False)
    delivery_id = models.PositiveIntegerField(_("Zalo's delivery id"), null=True, blank=True)
    # Zalo's delivery reached the hub and was refused for its signature: the OA secret
    # key stored on the app is not Zalo's.
    signature_refused = models.BooleanField(_("signature refused"), default=False)
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

    @property
    def result_text(self) -> str:
        return loaded(self.result) if self.result else self.answer


class NoticeSeen(models.Model):
    """Up to when a user has seen the recovery notices: each is shown once, then goes."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("user"),
    )
    recoveries_until = models.DateTimeField(_("recoveries seen until"))

    class Meta:
        verbose_name = _("notices seen")
        verbose_name_plural = _("notices seen")

    def __str__(self) -> str:
        return f"{self.user_id} {self.recoveries_until:%Y-%m-%d %H:%M}"
