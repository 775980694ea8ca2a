"""ZBS templates of an OA, its route policy and quota, and the template sends."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zalohub.accounts.models import OfficialAccount


class RoutePolicy(models.TextChoices):
    UID = "uid", _("UID")
    PHONE = "phone", _("Phone")
    UID_PHONE = "uid_phone", _("UID + Phone")


class Quality(models.TextChoices):
    HIGH = "HIGH", _("High")
    MEDIUM = "MEDIUM", _("Medium")
    LOW = "LOW", _("Low")
    UNDEFINED = "UNDEFINED", _("Not rated yet")


class ZbsSettings(models.Model):
    """Per OA: how template sends find the customer, and Zalo's daily quota."""

    oa = models.OneToOneField(
        OfficialAccount,
        on_delete=models.CASCADE,
        related_name="zbs_settings",
        verbose_name=_("official account"),
    )
    route_policy = models.CharField(
        _("Route policy"),
        max_length=12,
        choices=RoutePolicy.choices,
        default=RoutePolicy.UID_PHONE,
        help_text=_(
            "UID: the partner's Zalo link on this OA. Phone: the partner's phone 84xxxxxxxxx. "
            "UID + Phone: the link first, the phone when the link cannot be used."
        ),
    )
    daily_quota = models.PositiveIntegerField(_("daily quota"), null=True, blank=True)
    remaining_quota = models.PositiveIntegerField(_("remaining today"), null=True, blank=True)
    quota_synced_at = models.DateTimeField(_("quota read at"), null=True, blank=True)
    templates_synced_at = models.DateTimeField(_("templates synced at"), null=True, blank=True)
    last_sync_error = models.TextField(_("last sync error"), blank=True)
    # last_sync_error as core.stored_text.Reason.as_json(): shown in the reader's language.
    last_sync_error_i18n = models.JSONField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("ZBS settings")
        verbose_name_plural = _("ZBS settings")

    def __str__(self) -> str:
        return str(self.oa)


class Template(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        DISABLED = "disabled", _("Disabled")

    class Type(models.IntegerChoices):
        CUSTOM = 1, _("Custom")
        OTP = 2, _("Authentication (OTP)")
        PAYMENT = 3, _("Payment request")
        VOUCHER = 4, _("Voucher")
        RATING = 5, _("Service rating")

    class Tag(models.IntegerChoices):
        TRANSACTION = 1, _("Transaction")
        CUSTOMER_CARE = 2, _("Customer care")
        PROMOTION = 3, _("Promotion")

    class DisabledCause(models.TextChoices):
        QUOTA = "quota", _("Quota exceeded")
        QUALITY = "quality", _("Quality policy")
        DELETED = "deleted", _("Deleted on Zalo")
        OTHER = "other", _("Other (see the reason)")

    oa = models.ForeignKey(
        OfficialAccount,
        on_delete=models.CASCADE,
        related_name="zbs_templates",
        verbose_name=_("official account"),
    )
    zalo_template_id = models.CharField(_("Zalo template ID"), max_length=32, blank=True)
    name = models.CharField(_("name"), max_length=60)
    template_type = models.PositiveSmallIntegerField(
        _("type"), choices=Type.choices, default=Type.CUSTOM
    )
    tag = models.PositiveSmallIntegerField(_("tag"), choices=Tag.choices, default=Tag.TRANSACTION)
    body = models.TextField(
        _("content"),
        blank=True,
        help_text=_(
            "Write parameters in angle brackets, e.g. “Đơn hàng &lt;order_code&gt; đã được "
            "xác nhận”."
        ),
    )
    # [{name, type (Zalo's param type 1-15), max_length, min_length, require, sample}]
    params = models.JSONField(_("parameters"), default=list, blank=True)
    # [{type (1 URL, 2 phone), title, content}]
    buttons = models.JSONField(_("buttons"), default=list, blank=True)
    note = models.TextField(_("note to the reviewer"), blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.DRAFT
    )
    zalo_status = models.CharField(_("Zalo status"), max_length=20, blank=True, editable=False)
    reject_reason = models.TextField(_("Reject Reason"), blank=True)
    disabled_cause = models.CharField(
        _("disabled because of"), max_length=10, choices=DisabledCause.choices, blank=True
    )
    quality = models.CharField(
        _("Template Quality"), max_length=10, choices=Quality.choices, blank=True
    )
    price = models.CharField(_("price (VND)"), max_length=20, blank=True)
    template_daily_quota = models.IntegerField(_("template daily quota"), null=True, blank=True)
    preview_url = models.URLField(_("preview"), max_length=500, blank=True)
    starter = models.CharField(_("copied from starter"), max_length=40, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    synced_at = models.DateTimeField(_("synced at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("ZBS template")
        verbose_name_plural = _("ZBS templates")
        ordering = ["oa", "name", "id"]
        permissions = [("send_template", _("Can send approved templates"))]
        constraints = [
            models.UniqueConstraint(
                fields=["oa", "zalo_template_id"],
                condition=~Q(zalo_template_id=""),
                name="zbs_template_unique_zalo_id",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def editable(self) -> bool:
        return self.status == self.Status.DRAFT

    def param(self, name: str) -> dict | None:
        return next((p for p in self.params if p.get("name") == name), None)


def new_tracking_id() -> str:
    # Zalo takes at most 48 characters (API.md §4.2); stable for the send's whole life.
    return f"zh-{secrets.token_hex(12)}"


class BulkSend(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        STOPPED = "stopped", _("Stopped")

    oa = models.ForeignKey(
        OfficialAccount,
        on_delete=models.CASCADE,
        related_name="zbs_bulks",
        verbose_name=_("official account"),
    )
    template = models.ForeignKey(
        Template, on_delete=models.PROTECT, related_name="bulks", verbose_name=_("template")
    )
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    # Parameters taken from each recipient: {param: {"source": "name"|"phone"|"email"|"ref",
    # "key": <external reference>}} (zbs.mapping); the rest are the constants above.
    mapping = models.JSONField(_("parameters from each partner"), default=dict, blank=True)
    route_policy = models.CharField(
        _("Route policy"), max_length=12, choices=RoutePolicy.choices, blank=True
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.RUNNING
    )
    stop_reason = models.TextField(_("stopped because"), blank=True)
    # stop_reason as core.stored_text.Reason.as_json(): shown in the reader's language.
    stop_reason_i18n = models.JSONField(null=True, blank=True, editable=False)
    total = models.PositiveIntegerField(_("partners"), default=0)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("started by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("bulk send")
        verbose_name_plural = _("bulk sends")

    def __str__(self) -> str:
        return f"{self.template} x {self.total}"


class BulkRecipient(models.Model):
    class Outcome(models.TextChoices):
        PENDING = "pending", _("Waiting")
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Not sent")

    bulk = models.ForeignKey(BulkSend, on_delete=models.CASCADE, related_name="recipients")
    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE)
    position = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    detail = models.TextField(blank=True)
    # detail as core.stored_text.Reason.as_json(): shown in the reader's language.
    detail_i18n = models.JSONField(null=True, blank=True, editable=False)
    send = models.ForeignKey(
        "TemplateSend", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["bulk", "position"]
        verbose_name = _("bulk recipient")
        verbose_name_plural = _("bulk recipients")

    def __str__(self) -> str:
        return f"{self.partner} · {self.get_outcome_display()}"


class TemplateSend(models.Model):
    """One send of a template to one partner: its message, route and idempotency key."""

    template = models.ForeignKey(Template, on_delete=models.PROTECT, related_name="sends")
    oa = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="zbs_sends")
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.OneToOneField(
        "events.Message", on_delete=models.CASCADE, related_name="template_send"
    )
    params = models.JSONField(_("parameters"), default=dict)
    route_policy = models.CharField(_("Route policy"), max_length=12, choices=RoutePolicy.choices)
    route = models.CharField(_("route"), max_length=12, choices=RoutePolicy.choices, blank=True)
    phone = models.CharField(_("phone"), max_length=16, blank=True)
    user_id = models.CharField(_("Zalo user ID"), max_length=64, blank=True)
    fell_back = models.BooleanField(_("fell back to phone"), default=False)
    tracking_id = models.CharField(
        _("tracking ID"), max_length=48, unique=True, default=new_tracking_id
    )
    bulk = models.ForeignKey(
        BulkSend, on_delete=models.SET_NULL, null=True, blank=True, related_name="sends"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("template send")
        verbose_name_plural = _("template sends")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.template} → {self.phone or self.user_id}"
