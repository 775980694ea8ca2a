"""The team's inbox endpoints (issue 19): status and snooze, resolving a selection, private
notes, labels, the away switch. Each answers JSON, as the inbox's other actions do."""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from zalohub.inbox import access, assignment, team
from zalohub.inbox.models import Conversation, Status
from zalohub.inbox.views import _conversation, _refused, inbox_view


def _ok(**extra: Any) -> JsonResponse:
    return JsonResponse({"ok": True, **extra})


@require_POST
@inbox_view
def status(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(request, pk)
    wanted = request.POST.get("status", "")
    try:
        until = (
            team.snooze_until(request.POST.get("until", "")) if wanted == Status.SNOOZED else None
        )
        team.conversation_set_status(
            conversation=conversation, status=wanted, actor=request.user, snoozed_until=until
        )
    except team.TeamRefused as exc:
        return _refused(str(exc))
    return _ok(status=conversation.status)


@require_POST
@inbox_view
def resolve_selected(request: HttpRequest) -> HttpResponse:
    """The conversations ticked in the list, resolved at once (not a ZBS bulk send)."""
    ids = [int(raw) for raw in request.POST.getlist("c") if raw.isdigit()]
    if not ids:
        return _refused(_("Select conversations first."))
    chosen = Conversation.objects.filter(pk__in=ids, oa__in=access.visible_oas(request.user))
    done = team.conversations_resolve(conversations=chosen, actor=request.user)
    return _ok(resolved=done)


@require_POST
@inbox_view
def note(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(request, pk)
    try:
        entry = team.note_add(
            conversation=conversation, actor=request.user, text=request.POST.get("text", "")
        )
    except team.TeamRefused as exc:
        return _refused(str(exc))
    return _ok(entry_id=entry.pk, mentioned=entry.mentions.count())


@require_POST
@inbox_view
def labels(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(request, pk)
    ids = [int(raw) for raw in request.POST.getlist("label") if raw.isdigit()]
    team.labels_set(conversation=conversation, label_ids=ids, actor=request.user)
    return _ok()


@require_POST
@inbox_view
def away(request: HttpRequest) -> HttpResponse:
    assignment.set_away(user=request.user, away=request.POST.get("away") == "1")
    return _ok(away=request.POST.get("away") == "1")
