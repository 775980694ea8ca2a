"""API keys (stored hashed, scoped to OAs and capabilities), their rate windows, and the
answers kept for ``Idempotency-Key``."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zalohub.accounts.models import OfficialAccount


class Capability(models.TextChoices):
    SEND_MESSAGES = "send_messages", _("Send messages")
    SEND_TEMPLATES = "send_templates", _("Send templates")
    READ_CONVERSATIONS = "read_conversations", _("Read conversations")
    MANAGE_PARTNERS = "manage_partners", _("Manage partners")
    MANAGE_WEBHOOKS = "manage_webhooks", _("Manage webhooks")


class ApiKey(models.Model):
    """A key another system calls the API with. Only its SHA-256 is kept: the key itself
    is shown once, when it is created."""

    name = models.CharField(_("name"), max_length=100)
    # The key's first characters, shown so that a key can be recognised (not secret).
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    oas = models.ManyToManyField(
        OfficialAccount,
        related_name="api_keys",
        verbose_name=_("official accounts"),
        help_text=_("The key reaches only these OAs."),
    )
    capabilities = models.JSONField(_("capabilities"), default=list)
    rate_limit_per_minute = models.PositiveIntegerField(
        _("requests per minute"), default=1200, help_text=_("Past it the API answers 429.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(_("last used from"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def can(self, capability: str) -> bool:
        return capability in self.capabilities


class ApiRateWindow(models.Model):
    """One share of one key's count of requests in one minute (the database store of the
    rate limit; Redis holds it instead when ZALOHUB_REDIS_URL is set). A key's minute is
    split over a few rows, each with its share of the limit, so that concurrent requests
    do not all queue on one row's lock (held until each one's commit)."""

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    window_start = models.DateTimeField()
    shard = models.PositiveSmallIntegerField(default=0)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key", "window_start", "shard"], name="api_rate_shard_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key_id} {self.window_start:%H:%M} {self.count}"


class IdempotentRequest(models.Model):
    """The first answer to a POST with an ``Idempotency-Key``: a repeat with the same
    body gets it again, another body is refused (409)."""

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    idempotency_key = models.CharField(max_length=255)
    # SHA-256 of the method, path and body of the first request.
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.TextField(blank=True)
    content_type = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key", "idempotency_key"], name="api_idempotency_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key_id} {self.idempotency_key}"
