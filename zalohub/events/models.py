"""Zalo Events (the work queue and the record of every event) and the messages they carry."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.core import requestid
from zalohub.core.stored_text import shown


class ProcessingState(models.TextChoices):
    RECEIVED = "received", _("Received")
    QUEUED = "queued", _("Queued")
    PROCESSING = "processing", _("Processing")
    PROCESSED = "processed", _("Processed")
    ERROR = "error", _("Error")


# Waiting for a worker: stored, or queued again (a retry, a recovery, a Resend).
PENDING = (ProcessingState.RECEIVED, ProcessingState.QUEUED)


class ZaloState(models.TextChoices):
    ON_QUEUE = "on_queue", _("On Queue")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    RECEIVED = "received", _("Received")
    READ = "read", _("Read")
    FAILED = "failed", _("Failed")


# How far along delivery a state is: receipts only ever move a message forward.
ZALO_STATE_RANK: dict[str, int] = {
    ZaloState.ON_QUEUE: 0,
    ZaloState.SENT: 1,
    ZaloState.DELIVERED: 2,
    ZaloState.RECEIVED: 3,
    ZaloState.READ: 4,
}


class ErrorCategory(models.TextChoices):
    TOKEN = "token", _("Token / authorization")
    WEBHOOK = "webhook", _("Webhook not receiving")
    SEND = "send", _("Send failure")
    TEMPLATE = "template", _("Template rejected / disabled")
    RECIPIENT = "recipient", _("Recipient not identified")


class Direction(models.TextChoices):
    INBOUND = "in", _("Inbound")
    OUTBOUND = "out", _("Outbound")


class Outcome(models.TextChoices):
    HANDLED = "handled", _("Handled")
    RECORDED = "recorded", _("Recorded")
    IGNORED = "ignored", _("Ignored")
    UNKNOWN = "unknown", _("Unknown event")


class Message(models.Model):
    """One message in a conversation between an OA and a Zalo user, either way."""

    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        IMAGE = "image", _("Image")
        GIF = "gif", _("GIF")
        FILE = "file", _("File")
        STICKER = "sticker", _("Sticker")
        LINK = "link", _("Link")
        LOCATION = "location", _("Location")
        AUDIO = "audio", _("Audio")
        VIDEO = "video", _("Video")
        BUSINESS_CARD = "business_card", _("Business card")
        TEMPLATE = "template", _("Template")
        OTHER = "other", _("Other")

    oa = models.ForeignKey(
        OfficialAccount,
        on_delete=models.CASCADE,
        related_name="messages",
        verbose_name=_("official account"),
    )
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    zalo_user_id = models.CharField(_("Zalo user ID"), max_length=64)
    # Which partner the Zalo user is (set by identity resolution); the raw id stays too.
    partner_link = models.ForeignKey(
        "partners.ZaloPartnerLink",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("partner link"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.TEXT)
    text = models.TextField(_("text"), blank=True)
    attachments = models.JSONField(_("attachments"), default=list, blank=True)
    zalo_msg_id = models.CharField(_("Zalo message ID"), max_length=64, blank=True)
    quote_msg_id = models.CharField(_("quoted message ID"), max_length=64, blank=True)
    zalo_state = models.CharField(
        _("Zalo State"), max_length=20, choices=ZaloState.choices, blank=True
    )
    failure_code = models.IntegerField(_("failure code"), null=True, blank=True)
    failure_reason = models.TextField(_("failure reason"), blank=True)
    # failure_reason as core.stored_text.Reason.as_json(): shown in the reader's language.
    failure_reason_i18n = models.JSONField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("sent by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["oa", "zalo_msg_id"],
                condition=~Q(zalo_msg_id=""),
                name="events_message_unique_msg_id",
            ),
        ]
        indexes = [
            models.Index(fields=["oa", "zalo_user_id", "created_at"], name="events_msg_thread"),
            # The inbox reports read facts the inbox writes with each message (inbox
            # report_facts), not the messages: no index of theirs here (events/0010).
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.get_kind_display()} {self.zalo_user_id}"


class ZaloEvent(models.Model):
    """Every event, inbound (a webhook) or outbound (a send), and the work it needs."""

    # Every index below costs each webhook's INSERT: see Meta.indexes before adding one.
    app = models.ForeignKey(
        ZaloApp,
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("app"),
        db_index=False,  # events_unique_dedupe (app, dedupe_key) serves app lookups
    )
    oa = models.ForeignKey(
        OfficialAccount,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("official account"),
        db_index=False,  # events_oa_time (oa, -received_at) serves OA lookups
    )
    direction = models.CharField(
        _("direction"), max_length=3, choices=Direction.choices, default=Direction.INBOUND
    )
    event_name = models.CharField(_("event"), max_length=64)
    dedupe_key = models.CharField(_("dedupe key"), max_length=160)
    raw_body = models.TextField(_("raw payload"))
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    signature_variant = models.CharField(_("signature variant"), max_length=16, blank=True)
    # The request that stored it (a webhook, or the page that queued a send): its log
    # lines, the worker's and the API logs of its calls carry the same id.
    request_id = models.CharField(
        _("request ID"), max_length=64, blank=True, default=requestid.current, editable=False
    )
    num_retry = models.PositiveSmallIntegerField(_("Zalo retry number"), default=0)
    event_time = models.DateTimeField(_("event time"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now, db_index=True)
    zalo_user_id = models.CharField(_("Zalo user ID"), max_length=64, blank=True)
    # Events of one conversation are processed in arrival order, one at a time.
    conversation_key = models.CharField(max_length=100, blank=True)
    processing_state = models.CharField(
        _("Processing State"),
        max_length=20,
        choices=ProcessingState.choices,
        default=ProcessingState.RECEIVED,
    )
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    claimed_by = models.CharField(_("claimed by"), max_length=100, blank=True)
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    error_category = models.CharField(
        _("error category"), max_length=20, choices=ErrorCategory.choices, blank=True
    )
    error_message = models.TextField(_("error message"), blank=True)
    # error_message as core.stored_text.Reason.as_json(): shown in the reader's language.
    error_message_i18n = models.JSONField(null=True, blank=True, editable=False)
    error_at = models.DateTimeField(_("error at"), null=True, blank=True)
    message = models.ForeignKey(
        Message,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("message"),
        db_index=False,  # events_of_message, partial: a new event has no message yet
    )

    class Meta:
        verbose_name = _("Zalo event")
        verbose_name_plural = _("Zalo Events")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["app", "dedupe_key"], name="events_unique_dedupe"),
            # An API send's Idempotency-Key is one per API key, whatever app its OA is
            # of (``zalohub.api.accept``).
            models.UniqueConstraint(
                fields=["dedupe_key"],
                name="events_unique_idempotency",
                condition=Q(dedupe_key__startswith="idem:"),
            ),
        ]
        indexes = [
            # The queue: only rows that still need work are in this index.
            models.Index(
                fields=["next_attempt_at", "id"],
                name="events_ready",
                condition=Q(processing_state__in=["received", "queued"]),
            ),
            models.Index(
                fields=["conversation_key", "id"],
                name="events_conversation",
                condition=Q(processing_state__in=["received", "queued", "processing"]),
            ),
            models.Index(
                fields=["lease_until"],
                name="events_leased",
                condition=Q(processing_state="processing"),
            ),
            models.Index(fields=["oa", "-received_at"], name="events_oa_time"),
            # Plain btrees (a field's db_index adds a second, LIKE-prefix index on
            # PostgreSQL that no query here uses): the admin's event and customer filters,
            # the webhook self-test's probe lookup.
            models.Index(fields=["event_name"], name="events_event_name"),
            models.Index(fields=["zalo_user_id"], name="events_user"),
            # The events of a message (admin, ZBS sends, SET_NULL when a message goes).
            models.Index(
                fields=["message"], name="events_of_message", condition=Q(message__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_name} #{self.pk}"

    @property
    def zalo_state(self) -> str:
        return self.message.zalo_state if self.message_id and self.message else ""


class EventAttempt(models.Model):
    """One try at processing or sending an event: the history on the event's form."""

    class Result(models.TextChoices):
        RUNNING = "running", _("Running")
        OK = "ok", _("Succeeded")
        RETRY = "retry", _("Failed, will retry")
        ERROR = "error", _("Failed")
        INTERRUPTED = "interrupted", _("Interrupted")

    event = models.ForeignKey(ZaloEvent, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField(_("attempt"))
    worker = models.CharField(_("worker"), max_length=100, blank=True)
    claim_token = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    call_started_at = models.DateTimeField(_("call to Zalo started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    result = models.CharField(
        _("result"), max_length=20, choices=Result.choices, default=Result.RUNNING
    )
    error_code = models.IntegerField(_("Zalo error code"), null=True, blank=True)
    error_message = models.TextField(_("error message"), blank=True)
    # error_message as core.stored_text.Reason.as_json(): shown in the reader's language.
    error_message_i18n = models.JSONField(null=True, blank=True, editable=False)
    zalo_msg_id = models.CharField(_("Zalo message ID"), max_length=64, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        verbose_name = _("attempt")
        verbose_name_plural = _("attempts")
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.event_id}#{self.number} {self.get_result_display()}"


class RejectedRequest(models.Model):
    """A webhook request that was refused: kept (bounded) so a silent webhook can be
    diagnosed, e.g. a wrong OA secret key makes every signature fail. How many are kept
    is bounded per app and in all (``RejectedTally``, ``zalohub.events.ingestion.rejected``)."""

    received_at = models.DateTimeField(_("received at"), default=timezone.now, db_index=True)
    app_id = models.CharField(_("app ID"), max_length=64, blank=True)
    remote_addr = models.CharField(_("remote address"), max_length=64, blank=True)
    status_code = models.PositiveSmallIntegerField(_("answered"))
    reason = models.CharField(_("reason"), max_length=200)
    # reason as core.stored_text.Reason.as_json(): shown in the reader's language.
    reason_i18n = models.JSONField(null=True, blank=True, editable=False)
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    body = models.TextField(_("body"), blank=True)
    body_size = models.PositiveIntegerField(_("body size"), default=0)
    # What this row counts against its allowance (body, headers, reason).
    stored_bytes = models.PositiveIntegerField(_("stored bytes"), default=0)

    class Meta:
        verbose_name = _("rejected webhook request")
        verbose_name_plural = _("rejected webhook requests")
        ordering = ["-received_at"]
        indexes = [
            # Diagnostics' refused-per-app counts, the admin's app filter, the recount.
            models.Index(fields=["app_id", "received_at"], name="events_rejected_app"),
        ]

    def __str__(self) -> str:
        return f"{self.received_at:%Y-%m-%d %H:%M:%S} {self.reason_shown()}"

    def reason_shown(self) -> str:
        """The reason in the reader's language (rows from before its JSON: its msgid)."""
        if self.reason_i18n:
            return shown(self.reason, self.reason_i18n)
        return gettext(self.reason) if self.reason else ""


class RejectedTally(models.Model):
    """One allowance of rejected requests (an app's, all unknown app ids', or the
    total): what its stored rows use, and what was refused beyond it and not stored.

    Storing a rejected request takes its share with a conditional UPDATE, so the caps
    hold across processes; the hourly prune recounts what is kept."""

    bucket = models.CharField(_("allowance"), max_length=80, unique=True)
    kept_rows = models.PositiveIntegerField(_("rows kept"), default=0)
    kept_bytes = models.BigIntegerField(_("bytes kept"), default=0)
    dropped_rows = models.BigIntegerField(_("requests not stored"), default=0)
    dropped_bytes = models.BigIntegerField(_("bytes not stored"), default=0)
    last_dropped_at = models.DateTimeField(_("last not stored at"), null=True, blank=True)

    class Meta:
        verbose_name = _("rejected requests allowance")
        verbose_name_plural = _("rejected requests allowances")
        ordering = ["bucket"]

    def __str__(self) -> str:
        return self.bucket


class LaneRateWindow(models.Model):
    """One target's count of an outbound lane's rows in one window of its rate
    (``zalohub.events.outbound.lanes.Rate``: an OA's sends, a subscription's deliveries);
    Redis holds it instead when ZALOHUB_REDIS_URL is set."""

    key = models.CharField(max_length=80)  # "<lane>:<target pk>"
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="events_lane_rate_unique")
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.window_start:%H:%M:%S} {self.count}"
