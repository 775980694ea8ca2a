"""The OA form's Load Zalo history button: a page saying what it does and, on POST, a
background run of ``events.history.backfill_history`` for the OA (Zalo Admins)."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _

from zalohub.accounts.models import OfficialAccount
from zalohub.accounts.scope import acting_oas
from zalohub.events.history import CONVERSATIONS, MESSAGES, backfill_history

PERMISSION = "accounts.change_officialaccount"


def history_urls(site: admin.AdminSite) -> list[URLPattern]:
    def view(request: HttpRequest, oa_id: int) -> HttpResponse:
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        oa = get_object_or_404(acting_oas(request.user), pk=oa_id)
        if request.method == "POST":
            if oa.status != OfficialAccount.Status.CONNECTED:
                messages.error(request, _("Authorize the OA first: Zalo answers only then."))
            else:
                backfill_history.enqueue(oa.pk)
                messages.success(
                    request,
                    _(
                        "Loading %(oa)s's recent conversations from Zalo in the background: "
                        "they appear in the inbox as they arrive."
                    )
                    % {"oa": oa.name},
                )
            return redirect(reverse("admin:accounts_officialaccount_change", args=[oa.pk]))
        context = {
            **site.each_context(request),
            "oa": oa,
            "title": _("Load Zalo history: %s") % oa.name,
            "conversations": CONVERSATIONS,
            "messages_each": MESSAGES,
        }
        return TemplateResponse(request, "admin/events/history.html", context)

    return [path("history/<int:oa_id>/", site.admin_view(view), name="events_history")]
