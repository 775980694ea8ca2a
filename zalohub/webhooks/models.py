"""Outbound webhooks: who subscribes (Subscription), what is owed to them (Delivery, one
durable row per event and subscription, its webhook-id fixed when it is written) and what
each try got back (DeliveryAttempt, the delivery log)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zalohub.core.crypto import EncryptedTextField
from zalohub.core.stored_text import shown


class Subscription(models.Model):
    name = models.CharField(_("name"), max_length=200)
    url = models.URLField(_("URL"), max_length=1000)
    # Empty: every event type, or every OA.
    event_types = models.JSONField(_("events"), default=list, blank=True)
    oas = models.ManyToManyField(
        "accounts.OfficialAccount",
        verbose_name=_("Official Accounts"),
        blank=True,
        related_name="webhook_subscriptions",
    )
    secret = EncryptedTextField(_("signing secret"), editable=False)
    # After a rotation the old secret signs alongside the new one until this time.
    previous_secret = EncryptedTextField(_("previous secret"), blank=True, editable=False)
    previous_secret_until = models.DateTimeField(
        _("previous secret signs until"), null=True, blank=True, editable=False
    )
    allow_private_network = models.BooleanField(
        _("allow private addresses"),
        default=False,
        help_text=_(
            "Let this subscription deliver to loopback, link-local and private addresses "
            "(refused in live mode otherwise)."
        ),
    )
    rate_per_second = models.PositiveIntegerField(_("deliveries per second"), default=50)
    active = models.BooleanField(_("active"), default=True)
    disabled_reason = models.TextField(_("disabled because"), blank=True, editable=False)
    disabled_reason_i18n = models.JSONField(null=True, blank=True, editable=False)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True, editable=False)
    failure_streak = models.PositiveIntegerField(
        _("consecutive failures"), default=0, editable=False
    )
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def disabled_text(self) -> str:
        """Why it was disabled, in the reader's language."""
        return shown(self.disabled_reason, self.disabled_reason_i18n)


class Delivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERING = "delivering", _("Delivering")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    # No database constraint: a batch that queued a delivery to a subscription deleted
    # meanwhile by another process must still commit its messages (the row is dropped
    # by the retention job; Django's delete still cascades).
    subscription = models.ForeignKey(
        Subscription,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("subscription"),
        db_constraint=False,
    )
    webhook_id = models.CharField(_("webhook-id"), max_length=64, db_index=True)
    event_type = models.CharField(_("event"), max_length=64)
    oa_id = models.BigIntegerField(_("OA"), null=True, blank=True)
    body = models.TextField(_("payload"))  # the exact bytes signed and sent, every time
    is_test = models.BooleanField(_("test event"), default=False)
    replay_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("replay of")
    )
    state = models.CharField(
        _("state"), max_length=12, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    claimed_by = models.CharField(max_length=64, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_status = models.IntegerField(_("last answer"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["subscription", "state", "next_attempt_at"], name="webhooks_due"),
            models.Index(fields=["state", "lease_until"], name="webhooks_leased"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.webhook_id}"


class DeliveryAttempt(models.Model):
    class Result(models.TextChoices):
        OK = "ok", _("Delivered")
        RETRY = "retry", _("Failed will retry")
        FAILED = "failed", _("Failed")
        INTERRUPTED = "interrupted", _("Interrupted")

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField(_("attempt"))
    started_at = models.DateTimeField(_("started at"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    request_headers = models.JSONField(_("request headers"), default=dict)
    status = models.IntegerField(_("answer"), null=True, blank=True)
    response_body = models.TextField(_("answer body"), blank=True)
    error = models.TextField(_("error"), blank=True)
    result = models.CharField(_("result"), max_length=12, choices=Result.choices)
    worker = models.CharField(_("worker"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        ordering = ["delivery_id", "number", "id"]

    def __str__(self) -> str:
        return f"#{self.number}"


class OAWatch(models.Model):
    """What subscribers last heard of an OA's status and health level (watch.py)."""

    oa = models.OneToOneField(
        "accounts.OfficialAccount", on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(max_length=20, blank=True)
    health_level = models.CharField(max_length=10, blank=True)

    def __str__(self) -> str:
        return f"{self.oa_id}: {self.status} {self.health_level}"
