"""The team's rows (issue 19): who is online and how much they take, how each OA assigns,
the conversation's timeline (status changes, assignments, notes), mentions, saved
replies and labels. Imported by ``zalohub.inbox.models``, where Django looks for them.
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zalohub.accounts.models import OfficialAccount


class AssignmentMode(models.TextChoices):
    MANUAL = "manual", _("Manual")
    ROUND_ROBIN = "round_robin", _("Round robin")
    LEAST_OPEN = "least_open", _("Fewest open conversations")


class InboxPolicy(models.Model):
    """How an OA's new (and reopened) conversations find an agent."""

    oa = models.OneToOneField(
        OfficialAccount,
        on_delete=models.CASCADE,
        related_name="inbox_policy",
        verbose_name=_("official account"),
    )
    assignment = models.CharField(
        _("assignment"),
        max_length=16,
        choices=AssignmentMode.choices,
        default=AssignmentMode.MANUAL,
        help_text=_(
            "Round robin and fewest open conversations choose among the OA's members who "
            "have the inbox open and are not away, within each agent's capacity."
        ),
    )

    class Meta:
        verbose_name = _("inbox assignment policy")
        verbose_name_plural = _("inbox assignment policies")
        ordering = ["oa"]

    def __str__(self) -> str:
        return f"{self.oa}: {self.get_assignment_display()}"


class Agent(models.Model):
    """An inbox user's presence and capacity. Online: an inbox page open (its live stream
    touches ``last_seen_at``) and not away."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="inbox_agent",
        verbose_name=_("user"),
    )
    capacity = models.PositiveIntegerField(
        _("capacity"),
        default=0,
        help_text=_("At most this many open conversations assigned automatically; 0: no limit."),
    )
    away = models.BooleanField(_("away"), default=False)
    last_seen_at = models.DateTimeField(_("last seen at"), null=True, blank=True)
    # Round robin gives the next conversation to whoever waited longest for one.
    last_assigned_at = models.DateTimeField(_("last assigned at"), null=True, blank=True)

    class Meta:
        verbose_name = _("inbox agent")
        verbose_name_plural = _("inbox agents")
        ordering = ["user"]

    def __str__(self) -> str:
        return str(self.user)


class TimelineEntry(models.Model):
    """Something that happened to a conversation besides its messages, with who and when
    (``actor`` empty: the hub itself, e.g. an automatic assignment or a reopening)."""

    class Kind(models.TextChoices):
        STATUS = "status", _("Status")
        ASSIGNED = "assigned", _("Assignment")
        NOTE = "note", _("Note")
        LABEL = "label", _("Label")

    conversation = models.ForeignKey(
        "inbox.Conversation",
        on_delete=models.CASCADE,
        related_name="timeline",
        verbose_name=_("conversation"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    status = models.CharField(_("status"), max_length=10, blank=True)
    snoozed_until = models.DateTimeField(_("snoozed until"), null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assignee"),
    )
    text = models.TextField(_("text"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # A Resolved entry's: when the conversation was last opened before it (its last Open
    # entry, else its creation), stamped with the entry (``inbox.report_facts``).
    opened_at = models.DateTimeField(_("opened at"), null=True, blank=True)

    class Meta:
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline entries")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="inbox_timeline_conv"),
            models.Index(fields=["kind", "status", "created_at"], name="inbox_timeline_kind"),
            # The reports' "when was it last opened before this resolution" (issue 19).
            models.Index(
                fields=["conversation", "kind", "status", "created_at", "id"],
                name="inbox_timeline_conv_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} @ {self.created_at:%Y-%m-%d %H:%M}"


class Mention(models.Model):
    """A colleague named with @ in a private note: notified until they open it."""

    entry = models.ForeignKey(
        TimelineEntry, on_delete=models.CASCADE, related_name="mentions", verbose_name=_("note")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="inbox_mentions",
        verbose_name=_("user"),
    )
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("mention")
        verbose_name_plural = _("mentions")
        constraints = [
            models.UniqueConstraint(fields=["entry", "user"], name="inbox_mention_unique")
        ]
        indexes = [models.Index(fields=["user", "read_at"], name="inbox_mention_unread")]

    def __str__(self) -> str:
        return f"@{self.user}"


class SavedReply(models.Model):
    """A reply kept for reuse, found by typing / in the composer. Variables:
    {{customer_name}}, {{agent_name}}, {{oa_name}}."""

    oa = models.ForeignKey(
        OfficialAccount,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="saved_replies",
        verbose_name=_("official account"),
        help_text=_("Empty: shared by every OA."),
    )
    shortcut = models.SlugField(_("shortcut"), max_length=40, allow_unicode=True)
    text = models.TextField(
        _("text"),
        help_text=_(
            "Variables: {{customer_name}}, {{agent_name}}, {{oa_name}} are replaced when "
            "the reply is inserted."
        ),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("saved reply")
        verbose_name_plural = _("saved replies")
        ordering = ["shortcut"]

    def __str__(self) -> str:
        return f"/{self.shortcut}"


class Label(models.Model):
    """The staff's own labels on conversations (the customer's Zalo tags are Zalo's)."""

    name = models.CharField(_("name"), max_length=40, unique=True)
    color = models.CharField(
        _("color"),
        max_length=7,
        default="#6b7685",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("A colour like #0068ff."))],
        help_text=_("e.g. #0068ff"),
    )

    class Meta:
        verbose_name = _("label")
        verbose_name_plural = _("labels")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AgentReply(models.Model):
    """A message an agent wrote, as the reports count it (issue 19): written with the
    message, in its transaction, and derivable again from the thread
    (``inbox.report_facts``). Outside the free window: sent more than
    INBOX_FREE_WINDOW_HOURS after the customer's last message before it, or with none."""

    message = models.OneToOneField(
        "events.Message",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
        verbose_name=_("message"),
    )
    oa = models.ForeignKey(
        OfficialAccount,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("official account"),
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("agent"),
    )
    created_at = models.DateTimeField(_("sent at"))
    outside_window = models.BooleanField(_("outside the free window"))

    class Meta:
        verbose_name = _("agent reply")
        verbose_name_plural = _("agent replies")
        # Covering (PostgreSQL): a report counts a period's replies from the index alone.
        indexes = [
            models.Index(
                fields=["oa", "created_at"],
                include=["agent", "outside_window"],
                name="inbox_reply_oa_created_cov",
            )
        ]

    def __str__(self) -> str:
        return str(self.message_id)


class ReportDay(models.Model):
    """The reports' per-day summary (issue 19): one row per day (in TIME_ZONE), OA and
    agent, derived from the facts (``inbox.report_summary``) by a background task after
    the transaction that writes them marks the day (``ReportDayDirty``), and derivable
    again (``zalohub report_facts [--check]``). The durations are kept, sorted, so that a
    period's medians are exact; ``agent_id`` is the agent the facts credit (None:
    nobody), a plain number so that a removed user's rows are derived again from the
    facts, not nulled beside them."""

    day = models.DateField(_("day"))
    oa = models.ForeignKey(
        OfficialAccount,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("official account"),
    )
    agent_id = models.IntegerField(_("agent"), null=True, blank=True)
    new = models.PositiveIntegerField(_("new conversations"), default=0)
    resolved = models.PositiveIntegerField(_("resolved"), default=0)
    replies = models.PositiveIntegerField(_("agent replies"), default=0)
    outside_window = models.PositiveIntegerField(_("outside the free window"), default=0)
    # Sorted seconds, packed as little-endian doubles (``report_summary.pack``): a page
    # reads a month's in a few milliseconds, where JSON took most of its time to parse.
    first_responses = models.BinaryField(_("first response times (s)"), default=b"")
    resolutions = models.BinaryField(_("resolution times (s)"), default=b"")

    class Meta:
        verbose_name = _("report day")
        verbose_name_plural = _("report days")
        indexes = [models.Index(fields=["oa", "day"], name="inbox_reportday_oa_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.oa_id} {self.agent_id}"


class ReportDayDirty(models.Model):
    """An OA's day (in TIME_ZONE) whose facts changed since its ``ReportDay`` rows were
    derived (``inbox.report_summary``): the facts' transaction only adds one of these, the
    background task derives the day again and removes the marks it saw, and a report
    derives a marked day from the facts while it reads. Only inserted and deleted, never
    updated: writers of one day take no lock on each other (a row lock held to the
    commit, taken in two days' order by two transactions, would deadlock them)."""

    day = models.DateField(_("day"))
    # A plain number: a mark made while its OA is deleted (the cascade's conversations)
    # must not stop the deletion; the task derives nothing for it and removes it.
    oa_id = models.BigIntegerField(_("official account"))

    class Meta:
        verbose_name = _("report day to derive again")
        verbose_name_plural = _("report days to derive again")
        indexes = [models.Index(fields=["oa_id", "day"], name="inbox_reportdaydirty_oa_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.oa_id}"
