"""The OAuth callback Zalo redirects the admin's browser to."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from zalohub.accounts.oauth import OAuthFailure, browser_binding, oauth_complete


@require_GET
def oauth_callback(request: HttpRequest, app_id: str) -> HttpResponse:
    # No login required: the single-use state (or, without one, the attempt this browser
    # started) ties the callback to the attempt an admin started in this browser session,
    # and the page a failure shows reveals nothing secret.
    browser = browser_binding(request.session)
    try:
        oa = oauth_complete(app_id=app_id, params=request.GET.dict(), browser=browser)
    except OAuthFailure as failure:
        if failure.oa is not None and request.user.is_authenticated:
            messages.error(request, failure.message)
            return redirect(reverse("admin:accounts_officialaccount_change", args=[failure.oa.pk]))
        return render(
            request,
            "accounts/oauth_error.html",
            {"message": failure.message, "oa": failure.oa},
            status=400,
        )
    messages.success(request, _("“%s” is connected to Zalo.") % oa.name)
    return redirect(reverse("admin:accounts_officialaccount_change", args=[oa.pk]))
