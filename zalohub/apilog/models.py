from django.db import models
from django.utils.translation import gettext_lazy as _

from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.core import requestid


class ApiLog(models.Model):
    """One request zalohub sent to Zalo and Zalo's answer, secrets redacted."""

    created_at = models.DateTimeField(_("time"), db_index=True)
    method = models.CharField(_("method"), max_length=10)
    endpoint = models.CharField(_("endpoint"), max_length=100, db_index=True)
    url = models.CharField(_("URL"), max_length=2000)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    ok = models.BooleanField(_("succeeded"), default=True)
    error_code = models.IntegerField(_("Zalo error code"), null=True, blank=True)
    error_kind = models.CharField(_("error kind"), max_length=20, blank=True)
    error_message = models.TextField(_("error message"), blank=True)
    # error_message as core.stored_text.Reason.as_json(): shown in the reader's language.
    error_message_i18n = models.JSONField(null=True, blank=True, editable=False)
    duration_ms = models.FloatField(_("duration (ms)"))
    request_headers = models.JSONField(_("request headers"), default=dict)
    request_body = models.TextField(_("request body"), blank=True)
    response_body = models.TextField(_("response body"), blank=True)
    oa = models.ForeignKey(
        OfficialAccount,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="api_logs",
        verbose_name=_("official account"),
    )
    app = models.ForeignKey(
        ZaloApp, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("app")
    )
    # What caused the call beyond the OA (an event, a message, a template), as a type and
    # an id: the apps that own those rows sit above this one and are not imported here.
    ref_type = models.CharField(_("caused by"), max_length=30, blank=True)
    ref_id = models.CharField(_("caused by ID"), max_length=64, blank=True)
    # The request, job run or event being handled when the call was made
    # (zalohub.core.requestid): the same id as that request's and worker's log lines.
    request_id = models.CharField(
        _("request ID"), max_length=64, blank=True, default=requestid.current, editable=False
    )

    class Meta:
        verbose_name = _("API log")
        verbose_name_plural = _("API logs")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["oa", "-created_at"], name="apilog_oa_time"),
            models.Index(fields=["ref_type", "ref_id"], name="apilog_ref"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint} {self.http_status or '-'}"

    @property
    def duration_seconds(self) -> float:
        return round(self.duration_ms / 1000, 3)
