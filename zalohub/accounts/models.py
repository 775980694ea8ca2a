from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zalohub.core.crypto import EncryptedTextField, UnreadableSecret


class ZaloApp(models.Model):
    """An application in Zalo's developer console; OAs are authorized through it."""

    class PKCEMode(models.TextChoices):
        PER_REQUEST = "per_request", _("Fresh code verifier per authorization")
        FIXED = "fixed", _("Fixed code verifier (challenge pinned in Zalo's console)")

    name = models.CharField(_("name"), max_length=100)
    app_id = models.CharField(_("app ID"), max_length=32, unique=True)
    secret_key = EncryptedTextField(_("app secret key"))
    oa_secret_key = EncryptedTextField(
        _("OA secret key"),
        blank=True,
        help_text=_("Signs webhooks; shown on the Webhook page of Zalo's developer console."),
    )
    pkce_mode = models.CharField(
        _("PKCE mode"), max_length=20, choices=PKCEMode.choices, default=PKCEMode.PER_REQUEST
    )
    fixed_code_verifier = EncryptedTextField(
        _("fixed code verifier"),
        blank=True,
        help_text=_("Only for the fixed mode: the verifier whose challenge the console pins."),
    )
    # Which variant of the webhook signature Zalo's deliveries match (zalo.signature:
    # sources disagree), and when one last matched; noted by the webhook endpoint. A
    # database default too: code that predates the column (a rolling upgrade, an older
    # migration's model) still inserts apps.
    webhook_mac_variant = models.CharField(
        _("webhook signature variant"), max_length=16, blank=True, editable=False, db_default=""
    )
    webhook_mac_matched_at = models.DateTimeField(
        _("webhook signature last matched"), null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("Zalo app")
        verbose_name_plural = _("Zalo apps")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.app_id})"

    @property
    def callback_url(self) -> str:
        path = reverse("accounts:oauth_callback", kwargs={"app_id": self.app_id})
        return f"{settings.PUBLIC_URL}{path}"

    @property
    def webhook_url(self) -> str:
        # The endpoint lives in the events app; its path is part of the public contract.
        return f"{settings.PUBLIC_URL}/zalo/webhook/{self.app_id}/"


class OfficialAccount(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        CONNECTED = "connected", _("Connected")
        EXPIRED = "expired", _("Expired")
        ERROR = "error", _("Error")

    app = models.ForeignKey(
        ZaloApp, on_delete=models.PROTECT, related_name="official_accounts", verbose_name=_("app")
    )
    name = models.CharField(_("name"), max_length=200)
    oa_id = models.CharField(
        _("OA ID"), max_length=32, blank=True, help_text=_("Filled in by authorization.")
    )
    avatar = models.URLField(_("avatar"), max_length=1000, blank=True)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    access_token = EncryptedTextField(_("access token"), blank=True)
    refresh_token = EncryptedTextField(_("refresh token"), blank=True)
    token_expires_at = models.DateTimeField(_("token expires at"), null=True, blank=True)
    refresh_token_expires_at = models.DateTimeField(
        _("refresh token expires at"), null=True, blank=True
    )
    connected_at = models.DateTimeField(_("connected at"), null=True, blank=True)
    last_refreshed_at = models.DateTimeField(_("last refreshed at"), null=True, blank=True)
    last_refresh_error = models.TextField(_("last refresh error"), blank=True)
    # last_refresh_error as core.stored_text.Reason.as_json(): shown in the reader's language.
    last_refresh_error_i18n = models.JSONField(null=True, blank=True, editable=False)
    profile_synced_at = models.DateTimeField(_("profile synced at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    # last_error as core.stored_text.Reason.as_json(): shown in the reader's language.
    last_error_i18n = models.JSONField(null=True, blank=True, editable=False)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    # Zalo answered a code about the OA itself (-227, banned or inactive): its sends wait
    # (requeued, not failed) until the hold ends; the first send Zalo accepts lifts it.
    sends_held_until = models.DateTimeField(_("sends held until"), null=True, blank=True)
    sends_held_since = models.DateTimeField(_("sends held since"), null=True, blank=True)
    sends_held_code = models.IntegerField(_("sends held for Zalo code"), null=True, blank=True)
    # One refresher at a time: a claim token and its lease, taken by conditional UPDATE.
    refresh_claim = models.CharField(max_length=64, blank=True, editable=False)
    refresh_claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("official account")
        verbose_name_plural = _("official accounts")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["oa_id"], condition=~Q(oa_id=""), name="accounts_oa_unique_oa_id"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def token_valid(self) -> bool:
        """Green check on the form: connected, a readable token, not past its expiry."""
        return bool(
            self.status == self.Status.CONNECTED
            and self.access_token
            and not isinstance(self.access_token, UnreadableSecret)
            and self.token_expires_at
            and self.token_expires_at > timezone.now()
        )

    @property
    def callback_url(self) -> str:
        return self.app.callback_url

    @property
    def webhook_url(self) -> str:
        return self.app.webhook_url


class OAuthSession(models.Model):
    """One authorization attempt: the state and PKCE verifier the callback must match."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    oa = models.ForeignKey(
        OfficialAccount,
        on_delete=models.CASCADE,
        related_name="oauth_sessions",
        verbose_name=_("official account"),
    )
    state = models.CharField(_("state"), max_length=64, unique=True)
    code_verifier = EncryptedTextField(_("code verifier"))
    redirect_uri = models.URLField(_("redirect URI"), max_length=500)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    # The admin's browser session that started it (a hash of a random value kept in that
    # session): the callback must come back to the same browser.
    browser = models.CharField(max_length=64, blank=True, editable=False, db_default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("OAuth session")
        verbose_name_plural = _("OAuth sessions")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.oa} {self.created_at:%Y-%m-%d %H:%M} {self.get_status_display()}"


class RateWindow(models.Model):
    """One app's count of calls to Zalo in one minute (zalohub.accounts.ratelimit)."""

    app_id = models.CharField(max_length=64)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)
    # Zalo's X-RateLimit-Remain said 0: nothing more this window.
    exhausted = models.BooleanField(default=False)

    class Meta:
        # Kept where it was created (in events) when the rate limiter moved beside the
        # client: no table rename on upgrade.
        db_table = "events_ratewindow"
        constraints = [
            models.UniqueConstraint(
                fields=["app_id", "window_start"], name="events_ratewindow_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.app_id} {self.window_start:%H:%M} {self.count}"
