"""A person's request, through Zalo, that the business remove their data
(``user_withdraw``), and what the removal did.

The request names the person until a Zalo Admin confirms it; the removal then
anonymizes their partner link, messages, attachments and stored events, and the request
keeps only the audit: what was removed, how much, by whom and when, and a one-way
reference (``subject_ref``) that tells whether a later request is about the same person.
"""

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zalohub.accounts.models import OfficialAccount
from zalohub.partners.models import shown_name


def subject_ref(oa_id: str, zalo_user_id: str) -> str:
    """A one-way reference to a person on an OA, kept after their id is gone."""
    return hashlib.sha256(f"{oa_id}:{zalo_user_id}".encode()).hexdigest()[:16]


class DataRemovalRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for a Zalo Admin")
        REMOVED = "removed", _("Data removed")
        DISMISSED = "dismissed", _("Dismissed")

    oa = models.ForeignKey(
        OfficialAccount,
        on_delete=models.CASCADE,
        related_name="removal_requests",
        verbose_name=_("official account"),
    )
    # Emptied by the removal (the audit keeps subject_ref instead).
    zalo_user_id = models.CharField(_("Zalo user ID"), max_length=64, blank=True)
    subject_ref = models.CharField(_("subject reference"), max_length=16, db_index=True)
    subject_name = models.CharField(_("name when requested"), max_length=200, blank=True)
    link = models.ForeignKey(
        "partners.ZaloPartnerLink",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("partner link"),
    )
    event = models.ForeignKey(
        "events.ZaloEvent",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Zalo event"),
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.PENDING
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    # What the removal did: {"messages": n, "attachments": n, ...}; never the data.
    report = models.JSONField(_("what was removed"), default=dict, blank=True)

    class Meta:
        verbose_name = _("data-removal request")
        verbose_name_plural = _("data-removal requests")
        ordering = ["-requested_at", "-id"]
        constraints = [
            # One request per withdraw event (a redelivery, a Retry Processing).
            models.UniqueConstraint(fields=["event"], name="privacy_request_per_event"),
        ]

    def __str__(self) -> str:
        return f"{self.get_status_display()} · {self.subject_shown}"

    @property
    def subject_shown(self) -> str:
        """Who asked, in the reader's language (a shadow contact's placeholder name)."""
        return shown_name(self.subject_name) if self.subject_name else self.subject_ref
