"""Which OAs a user may act in: the one rule every list, form and action applies.

A Zalo Admin (or a superuser) acts in every OA; anyone else only in the OAs they are a
member of. Memberships are rows of the inbox app, which sits above accounts (DESIGN.md),
so the inbox declares them here at start-up through ``register_oa_membership`` and
partners, zbs and the inbox all ask ``acting_oas`` without importing each other. With no
membership source registered, a non-admin acts in no OA: closed, not open, by default.

Callers answer 404 for a row outside the user's OAs (never 403), so a guessed id does not
confirm that the row exists.
"""

from collections.abc import Callable
from typing import Any

from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest

from zalohub.accounts.models import OfficialAccount
from zalohub.core.roles import ZALO_ADMIN

# Given an active, authenticated non-admin user, a queryset of the OA ids (one column)
# they are a member of: kept a subquery so every scoped list stays one SQL query.
MembershipSource = Callable[[Any], QuerySet[Any]]
_membership_sources: list[MembershipSource] = []


def register_oa_membership(source: MembershipSource) -> None:
    if source not in _membership_sources:
        _membership_sources.append(source)


def is_zalo_admin(user: Any) -> bool:
    """Remembered on the user object for its life (a request's), as Django's own
    ``has_perm`` remembers permissions: one page asks it many times (an inbox list
    delta asked it 8 times, each a query)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    known = getattr(user, _ADMIN_CACHE, None)
    if known is None:
        known = user.groups.filter(name=ZALO_ADMIN).exists()
        setattr(user, _ADMIN_CACHE, known)
    return bool(known)


# The attribute ``is_zalo_admin`` keeps its answer in.
_ADMIN_CACHE = "_zalohub_is_zalo_admin"


def acting_oas(user: Any) -> QuerySet[OfficialAccount]:
    """The OAs ``user`` may see and act in."""
    if is_zalo_admin(user):
        return OfficialAccount.objects.all()
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return OfficialAccount.objects.none()
    qs = OfficialAccount.objects.none()
    for source in _membership_sources:
        qs = qs | OfficialAccount.objects.filter(pk__in=source(user))
    return qs


def may_act_in(user: Any, oa_id: int | None) -> bool:
    return oa_id is not None and acting_oas(user).filter(pk=oa_id).exists()


def scope_to_oas[M: Model](qs: QuerySet[M], user: Any, *, field: str = "oa") -> QuerySet[M]:
    """``qs`` narrowed to the rows whose ``field`` (an OA foreign key, or a path to one
    across a to-many relation such as ``zalo_links__oa``) is one of the user's OAs."""
    if is_zalo_admin(user):
        return qs
    oas = acting_oas(user)
    if "__" not in field:
        return qs.filter(**{f"{field}__in": oas})
    # Across a to-many relation a plain join would repeat a row once per match (and
    # upset annotations): select the matching primary keys instead.
    inner = qs.model._default_manager.filter(**{f"{field}__in": oas}).values("pk")
    return qs.filter(pk__in=inner)


class OAScopedAdminMixin:
    """For a ModelAdmin whose rows belong to OAs: lists, forms and actions see only the
    user's OAs, and another OA's id answers 404 exactly as an id that never existed
    (Django's admin would redirect to its index with "does not exist" instead)."""

    oa_field = "oa"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # A mixin: the ModelAdmin after it in the MRO answers (django-stubs cannot know).
        qs = super().get_queryset(request)  # type: ignore[misc]
        return scope_to_oas(qs, request.user, field=self.oa_field)

    def get_object(self, request: HttpRequest, object_id: str, from_field: Any = None) -> Any:
        obj = super().get_object(request, object_id, from_field)  # type: ignore[misc]  # as above
        if obj is None:
            raise Http404
        return obj
