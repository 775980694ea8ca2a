"""The inbox's own rows: who may see which OA, and one summary row per conversation.

A ``Conversation`` is a denormalised summary of the messages between one OA and one
Zalo user, kept in step by ``zalohub.inbox.rollup`` whenever a message is stored, so
the conversation list is one indexed query however many messages there are.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zalohub.accounts.models import OfficialAccount


class OAMembership(models.Model):
    """A CS agent answers the conversations of the OAs they are a member of."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="oa_memberships",
        verbose_name=_("user"),
    )
    oa = models.ForeignKey(
        OfficialAccount,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("official account"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("OA membership")
        verbose_name_plural = _("OA memberships")
        ordering = ["oa", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "oa"], name="inbox_membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.oa}"


class Status(models.TextChoices):
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending")  # waiting on the customer
    SNOOZED = "snoozed", _("Snoozed")  # until a time, or (no time) until the customer writes
    RESOLVED = "resolved", _("Resolved")


# A customer's message brings these back to Open (rollup's upsert, in SQL).
WAKES_ON_CUSTOMER = (Status.PENDING, Status.SNOOZED, Status.RESOLVED)


class Conversation(models.Model):
    oa = models.ForeignKey(
        OfficialAccount,
        on_delete=models.CASCADE,
        related_name="conversations",
        verbose_name=_("official account"),
    )
    zalo_user_id = models.CharField(_("Zalo user ID"), max_length=64)
    partner_link = models.ForeignKey(
        "partners.ZaloPartnerLink",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="conversations",
        verbose_name=_("partner link"),
    )
    last_message = models.ForeignKey(
        "events.Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("last message"),
    )
    last_message_at = models.DateTimeField(_("last message at"), default=timezone.now)
    # The customer's last message: the reply window counts from it (with other
    # interactions the partner link records).
    last_inbound_at = models.DateTimeField(_("last customer message at"), null=True, blank=True)
    unread_count = models.PositiveIntegerField(_("unread"), default=0)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_conversations",
        verbose_name=_("assigned to"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    snoozed_until = models.DateTimeField(_("snoozed until"), null=True, blank=True)
    labels = models.ManyToManyField(
        "inbox.Label", blank=True, related_name="conversations", verbose_name=_("labels")
    )
    # The reports' first response (issue 19), stamped when the messages are stored and
    # derivable again from them (``inbox.report_facts``): the customer's first message,
    # and the first agent's reply at or after it, with who wrote it.
    first_inbound_at = models.DateTimeField(_("first customer message at"), null=True, blank=True)
    first_reply_at = models.DateTimeField(_("first reply at"), null=True, blank=True)
    first_replier = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("first replied by"),
    )
    # Bumped on every change: live updates compare it with what a page last showed.
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-last_message_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["oa", "zalo_user_id"], name="inbox_conv_unique")
        ]
        indexes = [
            models.Index(fields=["oa", "-last_message_at", "-id"], name="inbox_conv_oa_recent"),
            models.Index(fields=["-last_message_at", "-id"], name="inbox_conv_recent"),
            models.Index(
                fields=["assigned_to", "-last_message_at", "-id"], name="inbox_conv_assignee"
            ),
            models.Index(fields=["updated_at"], name="inbox_conv_updated"),
            models.Index(fields=["oa", "status"], name="inbox_conv_oa_status"),
            # The reports' new conversations of a period, per OA (issue 19).
            models.Index(fields=["oa", "created_at"], name="inbox_conv_oa_created"),
            models.Index(fields=["assigned_to", "status"], name="inbox_conv_assignee_status"),
            models.Index(
                fields=["snoozed_until"],
                name="inbox_conv_snoozed",
                condition=models.Q(status="snoozed", snoozed_until__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        # The admin's titles and breadcrumbs: the name staff know, not Zalo's user id.
        return f"{self.customer_name() or self.zalo_user_id} @ {self.oa}"

    def customer_name(self) -> str:
        """The customer's name as staff know it ("" while no partner link names them)."""
        link = self.partner_link
        if link is None:
            return ""
        return link.partner.shown_name if link.partner_id else link.display_name


class SentImage(models.Model):
    """A copy of an image an agent sent. Zalo's upload answers only an attachment id, so
    without it the thread could show no picture of what went out. Kept in the database
    (at most 1 MB, Zalo's limit) so every web process, on any machine, can serve it."""

    message = models.OneToOneField(
        "events.Message",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="sent_image",
        verbose_name=_("message"),
    )
    name = models.CharField(_("file name"), max_length=255, blank=True)
    content_type = models.CharField(_("content type"), max_length=40)
    content = models.BinaryField(_("content"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("sent image")
        verbose_name_plural = _("sent images")

    def __str__(self) -> str:
        return self.name or str(self.message_id)


from zalohub.inbox.team_models import (  # noqa: E402  (the team's rows, kept apart for size)
    Agent,
    AgentReply,
    AssignmentMode,
    InboxPolicy,
    Label,
    Mention,
    ReportDay,
    ReportDayDirty,
    SavedReply,
    TimelineEntry,
)

__all__ = [
    "Agent",
    "AgentReply",
    "AssignmentMode",
    "Conversation",
    "InboxPolicy",
    "Label",
    "Mention",
    "OAMembership",
    "ReportDay",
    "ReportDayDirty",
    "SavedReply",
    "SentImage",
    "Status",
    "TimelineEntry",
]
