"""Who sees which OA's inbox: admins every OA, CS agents the OAs they are members of.

The rule itself is ``zalohub.accounts.scope.acting_oas``; the inbox supplies the
memberships it is made of (``member_oa_ids``) and adds its own permission on top.
"""

from typing import Any

from django.db.models import QuerySet

from zalohub.accounts.models import OfficialAccount
from zalohub.accounts.scope import acting_oas, is_zalo_admin
from zalohub.inbox.models import OAMembership


def member_oa_ids(user: Any) -> QuerySet[Any]:
    return OAMembership.objects.filter(user=user).values("oa_id")


def is_inbox_admin(user: Any) -> bool:
    return is_zalo_admin(user)


def can_use_inbox(user: Any) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and (is_inbox_admin(user) or user.has_perm("inbox.view_conversation"))
    )


def visible_oas(user: Any) -> QuerySet[OfficialAccount]:
    if not can_use_inbox(user):
        return OfficialAccount.objects.none()
    return acting_oas(user)


def can_see_oa(user: Any, oa_id: int) -> bool:
    return visible_oas(user).filter(pk=oa_id).exists()
