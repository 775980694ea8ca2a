"""Conversations of the key's OAs: list, read, their messages, mark read, assign."""

from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Header, Path, Query, Router

from zalohub.accounts.scope import may_act_in
from zalohub.api import present
from zalohub.api import schemas as s
from zalohub.api.access import need, only, the_key
from zalohub.api.idempotency import DOC, idempotent
from zalohub.api.models import ApiKey, Capability
from zalohub.api.pagination import page
from zalohub.api.partners import Paging
from zalohub.api.problems import COMMON, POST_ERRORS, ApiProblem, not_found
from zalohub.events.models import Message
from zalohub.inbox.models import Conversation
from zalohub.inbox.services import conversation_assign, conversation_mark_read

router = Router(tags=["conversations"])
ConversationId = Path(..., ge=1, le=s.MAX_ID)
IdempotencyKey = Header(None, alias="Idempotency-Key", description=DOC)


class ConversationFilters(Paging):
    oa: s.Id | None = None


def _conversation(key: ApiKey, conversation_id: int) -> Conversation:
    need(key, Capability.READ_CONVERSATIONS)
    conversation = (
        Conversation.objects.filter(pk=conversation_id, oa_id__in=only(key, None))
        .select_related("partner_link__partner", "assigned_to")
        .first()
    )
    if conversation is None:
        raise not_found()
    return conversation


@router.get("/conversations", response={200: s.ConversationPage, **COMMON})
def conversation_list(request: HttpRequest, filters: Query[ConversationFilters]) -> Any:
    """Conversations of the key's OAs (or of one), latest message first."""
    key = the_key(request)
    need(key, Capability.READ_CONVERSATIONS)
    qs = Conversation.objects.filter(oa_id__in=only(key, filters.oa)).select_related(
        "partner_link__partner", "assigned_to"
    )
    return page(
        qs,
        cursor=filters.cursor,
        limit=filters.limit,
        order=("last_message_at", "id"),
        item=present.conversation,
    )


@router.get("/conversations/{int:conversation_id}", response={200: s.ConversationOut, **COMMON})
def conversation_detail(request: HttpRequest, conversation_id: int = ConversationId) -> Any:
    return present.conversation(_conversation(the_key(request), conversation_id))


@router.get(
    "/conversations/{int:conversation_id}/messages", response={200: s.MessagePage, **COMMON}
)
def conversation_messages(
    request: HttpRequest, paging: Query[Paging], conversation_id: int = ConversationId
) -> Any:
    """The conversation's messages, newest first, both ways."""
    conversation = _conversation(the_key(request), conversation_id)
    qs = Message.objects.filter(
        oa_id=conversation.oa_id, zalo_user_id=conversation.zalo_user_id
    ).select_related("partner_link")
    return page(qs, cursor=paging.cursor, limit=paging.limit, item=present.message)


@router.post("/conversations/{int:conversation_id}/read", response={200: s.Done, **POST_ERRORS})
def conversation_read(
    request: HttpRequest,
    conversation_id: int = ConversationId,
    idempotency_key: str | None = IdempotencyKey,
) -> HttpResponse:
    """Mark the conversation read (its unread count to 0)."""
    key = the_key(request)
    conversation = _conversation(key, conversation_id)

    def work() -> tuple[int, s.Done]:
        return 200, s.Done(changed=conversation_mark_read(conversation=conversation))

    return idempotent(request, key=key, idempotency_key=idempotency_key, handler=work)


@router.post("/conversations/{int:conversation_id}/assign", response={200: s.Done, **POST_ERRORS})
def conversation_assign_to(
    request: HttpRequest,
    body: s.AssignIn,
    conversation_id: int = ConversationId,
    idempotency_key: str | None = IdempotencyKey,
) -> HttpResponse:
    """Give the conversation to a staff user who acts in its OA (null: to nobody)."""
    key = the_key(request)
    conversation = _conversation(key, conversation_id)
    assignee = None
    if body.username is not None:
        assignee = get_user_model().objects.filter(username=body.username).first()
        if assignee is None or not may_act_in(assignee, conversation.oa_id):
            raise ApiProblem(
                422, "invalid_assignee", _("No active user of that name acts in this OA.")
            )

    def work() -> tuple[int, s.Done]:
        done = conversation_assign(conversation=conversation, assignee=assignee, actor=None)
        return 200, s.Done(changed=done)

    return idempotent(request, key=key, idempotency_key=idempotency_key, handler=work)
