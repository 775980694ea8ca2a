"""Read-only foreign keys in the admin link only where the reader may follow them.

Django's admin shows a read-only foreign key as a link to the related object's form,
whoever reads the page: a CS agent on a conversation, a Zalo Events grantee on an event,
a Zalo Admin on a merge journal met forms that answer 403 (found by the demo walk). With
this mixin first among an admin's bases, a read-only foreign key whose model the reader
may not view is shown as text: the field's name in every list of fields becomes
``<name>_as_text``, a display of the related object's own words.
"""

from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.http import HttpRequest

SUFFIX = "_as_text"


def _hidden(model: type[models.Model], name: str, user: Any) -> bool:
    """A foreign key of ``model`` whose related model ``user`` may not view."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    if not isinstance(field, models.ForeignKey | models.OneToOneField):
        return False
    meta = field.related_model._meta
    return not user.has_perm(f"{meta.app_label}.view_{meta.model_name}")


class ReadonlyLinksMixin:
    """For a ModelAdmin or an inline: see the module's docstring."""

    model: type[models.Model]
    has_change_permission: Callable[..., bool]  # the admin's, after this mixin

    def as_texts(self, request: HttpRequest, names: Sequence[Any]) -> list[Any]:
        """``names`` with each foreign key the reader may not view shown as text (for an
        admin whose own get_readonly_fields does not call its parent's)."""
        return [
            f"{name}{SUFFIX}"
            if isinstance(name, str) and _hidden(self.model, name, request.user)
            else name
            for name in names
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = super().get_readonly_fields(request, obj)  # type: ignore[misc]  # a mixin
        return self.as_texts(request, readonly)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]  # a mixin
        readonly = self.get_readonly_fields(request, obj)
        texts = {n.removesuffix(SUFFIX) for n in readonly if str(n).endswith(SUFFIX)}
        if not self.has_change_permission(request, obj):
            # A reader who may only view gets every field read-only (Django's admin).
            names = [
                n
                for _title, options in fieldsets
                for line in options.get("fields", ())
                for n in (line if isinstance(line, list | tuple) else [line])
            ]
            user = request.user
            texts |= {n for n in names if isinstance(n, str) and _hidden(self.model, n, user)}
        if not texts:
            return fieldsets

        def swap(name: Any) -> Any:
            return f"{name}{SUFFIX}" if name in texts else name

        return [
            (
                title,
                {
                    **options,
                    "fields": [
                        [swap(n) for n in line] if isinstance(line, list | tuple) else swap(line)
                        for line in options.get("fields", ())
                    ],
                },
            )
            for title, options in fieldsets
        ]

    def __getattr__(self, name: str) -> Callable[[Any], str]:
        if not name.endswith(SUFFIX):
            raise AttributeError(name)
        field_name = name.removesuffix(SUFFIX)
        try:
            field = self.model._meta.get_field(field_name)
        except FieldDoesNotExist:
            raise AttributeError(name) from None

        @admin.display(description=getattr(field, "verbose_name", field_name))
        def as_text(obj: Any) -> str:
            related = getattr(obj, field_name, None)
            return str(related) if related is not None else "-"

        return as_text
