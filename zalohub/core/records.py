"""Change forms of records nobody edits by hand (a bulk send, a merge, a suggestion):
read, never saved."""

from typing import Any

from django.http import HttpRequest, HttpResponse

# The admin's change-form context that hides its Save buttons.
NO_SAVE = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}


class RecordAdminMixin:
    """For a ModelAdmin whose rows record what happened: no Save buttons on the form."""

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        return super().change_view(  # type: ignore[misc]  # a mixin for ModelAdmin
            request, object_id, form_url, {**(extra_context or {}), **NO_SAVE}
        )
