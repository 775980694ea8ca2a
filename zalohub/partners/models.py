"""The business's contacts and the per-OA Zalo identities that point at them.

A Partner is one real customer. A ZaloPartnerLink maps one Zalo user id on one OA to a
partner (Zalo gives a person a different id in each OA, and a ``user_id_by_app`` per
app). Every identity decision is journaled with its evidence, so a doubt can be shown
and a mistake undone.
"""

import contextlib
import re
import unicodedata
from collections.abc import Collection
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.partners.phones import InvalidPhone, normalize_phone

# The name a shadow contact gets before its Zalo profile arrives, as written in either
# language (by a worker: English; by a request in Vietnamese: Vietnamese).
_PLACEHOLDER = re.compile(r"^(?:Zalo user|Người dùng Zalo) (\d{1,6})$")


# What a data removal names the person's partner (partners.removal.REMOVED_NAME).
_REMOVED = re.compile(r"^Removed customer (\d{1,12})$")


def shown_name(name: str) -> str:
    """A partner's name for the reader: the placeholders in the reader's language, any
    other name exactly as it was given."""
    if match := _PLACEHOLDER.match(name):
        return gettext("Zalo user %(id)s") % {"id": match[1]}
    if match := _REMOVED.match(name):
        return gettext("Removed customer %(n)s") % {"n": match[1]}
    return name


def name_key(name: str) -> str:
    """The blocking key for similar names: no accents, lower case, words sorted."""
    plain = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    return " ".join(sorted(plain.split()))[:200]


class NameSource(models.TextChoices):
    # Who gave the partner its name: a Zalo profile sync may only replace Zalo's own.
    ZALO = "zalo", _("Zalo profile (follows it)")
    CUSTOMER = "customer", _("Shared by the customer")
    STAFF = "staff", _("Entered by staff")


class Partner(models.Model):
    name = models.CharField(_("name"), max_length=200)
    name_source = models.CharField(
        _("name from"),
        max_length=10,
        choices=NameSource.choices,
        default=NameSource.STAFF,
        help_text=_("A name from the Zalo profile follows it on every sync until staff edit it."),
    )
    # Duplicate detection compares names only inside this key (see name_key).
    name_key = models.CharField(max_length=200, blank=True, db_index=True, editable=False)
    email = models.EmailField(_("email"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    # Ids of this customer in other systems (ERP, CRM): {"erp": "C-0042", ...}.
    external_refs = models.JSONField(_("external references"), default=dict, blank=True)
    is_shadow = models.BooleanField(
        _("shadow contact"),
        default=False,
        help_text=_("Created from a Zalo message before the customer's identity was known."),
    )
    # Set when this partner was merged into another: its id redirects there.
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_partners",
        verbose_name=_("merged into"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["is_shadow"], name="partners_shadow", condition=Q(is_shadow=True))
        ]

    def __str__(self) -> str:
        return self.shown_name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.name_key = name_key(self.name)
        if kwargs.get("update_fields") is not None and "name" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "name_key"}
        super().save(*args, **kwargs)

    @property
    def shown_name(self) -> str:
        return shown_name(self.name)

    def resolved(self) -> "Partner":
        """The partner this one now is (itself unless merged)."""
        partner = self
        while partner.merged_into is not None:  # no query once merged_into_id is None
            partner = partner.merged_into
        return partner


class PartnerPhone(models.Model):
    class Source(models.TextChoices):
        MANUAL = "manual", _("Entered by staff")
        ZALO_SUBMIT_INFO = "zalo_submit_info", _("Shared by the customer on Zalo")
        ZALO_PROFILE = "zalo_profile", _("Zalo profile")
        API = "api", _("Another system")

    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="phones", verbose_name=_("partner")
    )
    number = models.CharField(_("phone"), max_length=16, db_index=True, help_text="84xxxxxxxxx")
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    # Shared by the customer themself (or confirmed by staff), not merely typed in.
    verified = models.BooleanField(_("verified"), default=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("phone")
        verbose_name_plural = _("phones")
        constraints = [
            models.UniqueConstraint(fields=["partner", "number"], name="partners_phone_unique")
        ]

    def __str__(self) -> str:
        return self.number

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Every path that saves a phone stores 84xxxxxxxxx. Forms and services refuse
        # what is not a Vietnamese number (clean_fields); a row written without them
        # keeps its text, and the senders check it again before use.
        with contextlib.suppress(InvalidPhone):
            self.number = normalize_phone(self.number)
        super().save(*args, **kwargs)

    def clean_fields(self, exclude: Collection[str] | None = None) -> None:
        # Before the field checks: what staff type ("+84 912-345-678") is longer than
        # what is stored, and only the stored form may be compared for uniqueness.
        if not exclude or "number" not in exclude:
            try:
                self.number = normalize_phone(self.number)
            except InvalidPhone as exc:
                raise ValidationError({"number": str(exc)}) from None
        super().clean_fields(exclude=exclude)


class LinkMethod(models.TextChoices):
    NEW_SHADOW = "new_shadow", _("New shadow contact")
    SAME_APP_USER = "same_app_user", _("Same user_id_by_app in another OA of the app")
    SUBMITTED_PHONE = "submitted_phone", _("Phone shared through Zalo")
    MANUAL = "manual", _("Confirmed by staff")
    MERGE = "merge", _("Moved by a merge")


class ZaloPartnerLink(models.Model):
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="zalo_links", verbose_name=_("partner")
    )
    oa = models.ForeignKey(
        OfficialAccount,
        on_delete=models.CASCADE,
        related_name="partner_links",
        verbose_name=_("official account"),
    )
    app = models.ForeignKey(
        ZaloApp, on_delete=models.CASCADE, related_name="partner_links", verbose_name=_("Zalo app")
    )
    zalo_user_id = models.CharField(_("Zalo user ID"), max_length=64)
    user_id_by_app = models.CharField(_("user ID by app"), max_length=64, blank=True)
    display_name = models.CharField(_("Zalo name"), max_length=200, blank=True)
    avatar = models.URLField(_("avatar"), max_length=500, blank=True)
    is_follower = models.BooleanField(_("follows the OA"), null=True)
    followed_at = models.DateTimeField(_("followed at"), null=True, blank=True)
    unfollowed_at = models.DateTimeField(_("unfollowed at"), null=True, blank=True)
    last_interaction_at = models.DateTimeField(_("last interaction"), null=True, blank=True)
    user_alias = models.CharField(_("alias on Zalo"), max_length=200, blank=True)
    tag_names = models.JSONField(_("Zalo tags"), default=list, blank=True)
    zalo_notes = models.JSONField(_("Zalo notes"), default=list, blank=True)
    # From the user detail: Zalo's flag for a user under 18 (API.md §5), and the day
    # Zalo last saw the user interact with the OA (Zalo gives a date, no time).
    is_sensitive = models.BooleanField(_("sensitive (under 18)"), null=True, blank=True)
    zalo_last_interaction_on = models.DateField(
        _("last interaction on Zalo"), null=True, blank=True
    )
    synced_at = models.DateTimeField(_("profile synced at"), null=True, blank=True)
    sync_error = models.TextField(_("last sync error"), blank=True)
    # sync_error as core.stored_text.Reason.as_json(): shown in the reader's language.
    sync_error_i18n = models.JSONField(null=True, blank=True, editable=False)
    # A profile fetch is wanted from this time on (a new user, Sync Profile, a retry);
    # empty once done. The background task carries only the link's id.
    profile_due_at = models.DateTimeField(_("profile fetch due"), null=True, blank=True)
    is_shadow = models.BooleanField(
        _("shadow"), default=True, help_text=_("Not yet verified by evidence or by staff.")
    )
    link_method = models.CharField(_("linked by"), max_length=20, choices=LinkMethod.choices)
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("Zalo partner link")
        verbose_name_plural = _("Zalo partner links")
        ordering = ["-last_interaction_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["oa", "zalo_user_id"], name="partners_link_unique")
        ]
        indexes = [
            models.Index(
                fields=["app", "user_id_by_app"],
                name="partners_link_by_app",
                condition=~Q(user_id_by_app=""),
            ),
            models.Index(
                fields=["profile_due_at"],
                name="partners_link_profile_due",
                condition=Q(profile_due_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name or self.zalo_user_id} @ {self.oa}"


class IdentityDecision(models.Model):
    """Why a link points where it does: every resolution step, with its evidence."""

    class Kind(models.TextChoices):
        NEW_SHADOW = "new_shadow", _("Created a shadow contact")
        JOINED = "joined", _("Joined an existing partner")
        PHONE_ADDED = "phone_added", _("Recorded a shared phone")
        VERIFIED = "verified", _("Verified")
        SUGGESTED = "suggested", _("Suggested a duplicate (not merged)")
        BLOCKED = "blocked", _("Ignored a blocked value")
        INVALID = "invalid", _("Ignored an invalid value")
        UNDER_REVIEW = "under_review", _("Kept under review")

    link = models.ForeignKey(
        ZaloPartnerLink,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="decisions",
        verbose_name=_("link"),
    )
    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="decisions", verbose_name=_("partner")
    )
    kind = models.CharField(_("decision"), max_length=20, choices=Kind.choices)
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("by"),
    )
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("identity decision")
        verbose_name_plural = _("identity decisions")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.partner})"


class DuplicateSuggestion(models.Model):
    """Two partners that evidence says may be one customer, for an admin to decide."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        MERGED = "merged", _("Merged")
        DISMISSED = "dismissed", _("Not the same customer")

    first = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="+", verbose_name=_("partner")
    )
    second = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="+", verbose_name=_("possible duplicate")
    )
    score = models.PositiveSmallIntegerField(_("score"), default=0)
    reasons = models.JSONField(_("reasons"), default=list)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("duplicate suggestion")
        verbose_name_plural = _("duplicate suggestions")
        ordering = ["-score", "-created_at"]
        constraints = [
            # One row per unordered pair: services store the lower id first.
            models.UniqueConstraint(fields=["first", "second"], name="partners_dup_pair"),
            models.CheckConstraint(
                condition=Q(first__lt=models.F("second")), name="partners_dup_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first} ~ {self.second}"


class MergeJournal(models.Model):
    """One merge, with the snapshot that undoes it exactly; also the ``partner.merged``
    record other systems read."""

    survivor = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="+", verbose_name=_("survivor")
    )
    merged = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="+", verbose_name=_("merged partner")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("merged by"),
    )
    snapshot = models.JSONField(_("snapshot"), default=dict)
    report = models.JSONField(_("report"), default=dict)
    created_at = models.DateTimeField(_("merged at"), default=timezone.now)
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("undone by"),
    )
    undo_report = models.JSONField(_("undo report"), default=dict, blank=True)

    class Meta:
        verbose_name = _("merge")
        verbose_name_plural = _("merges")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.merged} → {self.survivor}"


class ZaloTag(models.Model):
    """A tag of an OA on Zalo: the labels the OA's staff put on followers (read with
    ``gettagsofoa``, followed through the tag webhooks)."""

    oa = models.ForeignKey(
        OfficialAccount,
        on_delete=models.CASCADE,
        related_name="zalo_tags",
        verbose_name=_("official account"),
    )
    name = models.CharField(_("tag"), max_length=100)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("Zalo tag")
        verbose_name_plural = _("Zalo tags")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["oa", "name"], name="partners_zalotag_unique")
        ]

    def __str__(self) -> str:
        return self.name


class ZaloTagging(models.Model):
    """One partner link carries one of its OA's tags (the link's ``tag_names`` lists the
    same names, for display)."""

    link = models.ForeignKey(
        ZaloPartnerLink, on_delete=models.CASCADE, related_name="taggings", verbose_name=_("link")
    )
    tag = models.ForeignKey(
        ZaloTag, on_delete=models.CASCADE, related_name="taggings", verbose_name=_("tag")
    )
    created_at = models.DateTimeField(_("tagged at"), default=timezone.now)

    class Meta:
        verbose_name = _("Zalo tagging")
        verbose_name_plural = _("Zalo taggings")
        constraints = [
            models.UniqueConstraint(fields=["link", "tag"], name="partners_tagging_unique")
        ]

    def __str__(self) -> str:
        return f"{self.tag} @ {self.link_id}"
