"""An object's history page counts its entries in the reader's language (Django 6's
"1 entry" has no Vietnamese in Django's catalogue; zalohub/locale_django supplies it)."""

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group

pytestmark = pytest.mark.django_db


def test_it_counts_history_entries_in_vietnamese(admin_client, admin_user):
    group = Group.objects.create(name="walk")
    LogEntry.objects.log_actions(
        user_id=admin_user.pk, queryset=[group], action_flag=CHANGE, change_message="x"
    )
    url = f"/admin/auth/group/{group.pk}/history/"
    # It should say "1 entry" in English and "1 mục" in Vietnamese.
    assert "1 entry" in admin_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    admin_client.cookies["django_language"] = "vi"
    page = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="vi").content.decode()
    assert "1 mục" in page and "entry" not in page
