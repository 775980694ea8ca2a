"""Who sees which OA's inbox: admins every OA, CS agents the OAs they are members of."""

from typing import Any

from django.db.models import QuerySet

from zalohub.accounts.models import OfficialAccount
from zalohub.core.roles import ZALO_ADMIN


def is_inbox_admin(user: Any) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.is_superuser or user.groups.filter(name=ZALO_ADMIN).exists())


def can_use_inbox(user: Any) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and (is_inbox_admin(user) or user.has_perm("inbox.view_conversation"))
    )


def visible_oas(user: Any) -> QuerySet[OfficialAccount]:
    if is_inbox_admin(user):
        return OfficialAccount.objects.all()
    if not can_use_inbox(user):
        return OfficialAccount.objects.none()
    return OfficialAccount.objects.filter(memberships__user=user)


def can_see_oa(user: Any, oa_id: int) -> bool:
    return visible_oas(user).filter(pk=oa_id).exists()
