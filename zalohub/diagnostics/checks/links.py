"""Links from a check to the filtered lists that prove it."""

from datetime import datetime
from urllib.parse import urlencode

from django.urls import reverse

from zalohub.accounts.models import OfficialAccount


def _list(name: str, params: dict[str, object]) -> str:
    query = urlencode(
        {k: v.isoformat() if isinstance(v, datetime) else v for k, v in params.items()}
    )
    return f"{reverse(name)}?{query}" if query else reverse(name)


def events(oa: OfficialAccount, **params: object) -> str:
    return _list("admin:events_zaloevent_changelist", {"oa__id__exact": oa.pk, **params})


def api_logs(oa: OfficialAccount, **params: object) -> str:
    return _list("admin:apilog_apilog_changelist", {"oa__id__exact": oa.pk, **params})


def rejected(oa: OfficialAccount, **params: object) -> str:
    return _list("admin:events_rejectedrequest_changelist", {"app_id": oa.app.app_id, **params})


def oa_form(oa: OfficialAccount) -> str:
    return reverse("admin:accounts_officialaccount_change", args=[oa.pk])


def zbs_templates(oa: OfficialAccount, **params: object) -> str:
    return _list("admin:zbs_template_changelist", {"oa__id__exact": oa.pk, **params})
