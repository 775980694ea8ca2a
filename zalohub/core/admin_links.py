"""Read-only foreign keys in the admin link only where the reader may follow them.

Django's admin shows a read-only foreign key as a link to the related object's form,
whoever reads the page: a CS agent on a conversation, a Zalo Events grantee on an event,
a Zalo Admin on a merge journal met forms that answer 403 (found by the demo walk). With
this mixin first among an admin's bases, a read-only foreign key whose model the reader
may not view is shown as text: the field's name in every list of fields becomes
``<name>_as_text``, a display of the related object's own words.

Those displays are plain attributes of the admin: ``__init__`` gives the admin one
``<name>_as_text`` method for each foreign key of its model (``text_displays`` says
which), so Django's admin finds them as it finds any method named in a list of fields.
An admin that declares its own ``<name>_as_text`` keeps it.
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


def _text_display(field: models.Field[Any, Any]) -> Callable[[Any], str]:
    """An admin display of ``field``'s related object as text, under the field's label."""
    name = field.name

    @admin.display(description=field.verbose_name)
    def as_text(obj: Any) -> str:
        related = getattr(obj, name, None)
        return str(related) if related is not None else "-"

    return as_text


def text_displays(model: type[models.Model]) -> dict[str, Callable[[Any], str]]:
    """``<name>_as_text`` for each foreign key (or one-to-one) field of ``model``."""
    return {
        f"{field.name}{SUFFIX}": _text_display(field)
        for field in model._meta.get_fields()
        if isinstance(field, models.ForeignKey | models.OneToOneField)
    }


class ReadonlyLinksMixin:
    """For a ModelAdmin or an inline: see the module's docstring."""

    model: type[models.Model]
    has_change_permission: Callable[..., bool]  # the admin's, after this mixin

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, display in text_displays(self.model).items():
            if not hasattr(self, name):
                setattr(self, name, display)

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
