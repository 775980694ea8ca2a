"""The inbox pages: thin views over services, partials for live refresh, the stream."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Q, Sum
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from zalohub.core.roles import ZALO_ADMIN
from zalohub.events.actions import ActionRefused
from zalohub.events.models import Direction, Message
from zalohub.events.outbound.oa_message import SendRefused
from zalohub.inbox import access, live_parts, services, stream, team, team_present
from zalohub.inbox.models import Conversation, SentImage
from zalohub.inbox.uploads import RULES
from zalohub.inbox.window import offer_extras, window_extras


def _denied(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "inbox/denied.html", {"message": message}, status=403)


def inbox_view(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Login, the inbox permission, and a 403 page that says what is missing."""

    @login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not access.can_use_inbox(request.user):
            return _denied(request, _("Your account has no access to the inbox."))
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _selected_oa(request: HttpRequest) -> int | None:
    raw = request.GET.get("oa", "all")
    if raw in ("", "all"):
        return None
    try:
        oa_id = int(raw)
    except ValueError:
        raise Http404 from None
    # Another OA answers as one that does not exist: a guessed id confirms nothing.
    if not access.can_see_oa(request.user, oa_id):
        raise Http404
    return oa_id


def _conversation(request: HttpRequest, pk: int) -> Conversation:
    # Another OA's conversation answers as one that does not exist (404, not 403).
    return get_object_or_404(
        Conversation.objects.select_related("oa", "partner_link__partner", "assigned_to"),
        pk=pk,
        oa__in=access.visible_oas(request.user),
    )


def _filters(request: HttpRequest) -> dict[str, Any]:
    scope = request.GET.get("scope", services.Scope.ALL)
    if scope not in set(services.Scope):
        scope = services.Scope.ALL
    return {
        "oa_id": _selected_oa(request),
        "scope": scope,
        "q": request.GET.get("q", ""),
        "status": team_present.status_filter(request),
    }


def _list_context(
    request: HttpRequest, filters: dict[str, Any], *, rows: bool = True
) -> dict[str, Any]:
    """The list's parts; without ``rows``, all but its rows (a live delta draws its own)."""
    now = timezone.now()  # the page's cursor: rows changed after it are news to it
    oas = list(access.visible_oas(request.user).order_by("name"))
    unread = dict(
        Conversation.objects.filter(oa__in=oas, unread_count__gt=0)
        .values_list("oa_id")
        .annotate(n=Sum("unread_count"))
        .values_list("oa_id", "n")
    )
    shown: list[tuple[Conversation, str]] = []
    if rows:
        conversations = services.conversation_list(
            user=request.user,
            oa_id=filters["oa_id"],
            scope=filters["scope"],
            query=filters["q"],
            status=filters["status"],
        )
        shown = [(c, services.display_name(c)) for c in conversations]
        live_parts.stamp_rows(shown)
    return {
        **team_present.list_extras(request, filters),
        "oas": [(oa, unread.get(oa.pk, 0)) for oa in oas],
        "unread_total": sum(unread.values()),
        "rows": shown,
        "list_cursor": live_parts.micros(now),
        "filters": filters,
        "selected_oa": "all" if filters["oa_id"] is None else str(filters["oa_id"]),
        "scopes": [
            (services.Scope.ALL, _("All")),
            (services.Scope.MINE, _("Mine")),
            (services.Scope.UNASSIGNED, _("Unassigned")),
        ],
    }


def _assignees(conversation: Conversation) -> list[Any]:
    users = get_user_model().objects.filter(is_active=True)
    return list(
        users.filter(
            Q(oa_memberships__oa=conversation.oa)
            | Q(groups__name=ZALO_ADMIN)
            | Q(is_superuser=True)
        )
        .distinct()
        .order_by("username")
    )


def _thread_context(request: HttpRequest, conversation: Conversation) -> dict[str, Any]:
    services.conversation_mark_read(conversation=conversation)
    name = services.display_name(conversation)
    messages, items = live_parts.full_thread_items(conversation, name)
    return {
        **team_present.thread_extras(request, conversation, name),
        "conversation": conversation,
        "name": name,
        "groups": items,
        # The newest id shown (what the next delta starts after), not the last message's:
        # a message stored late has a higher id than messages after it.
        "latest_id": max((m.pk for m in messages), default=0),
        **live_parts.thread_marks(conversation, items),
        **_top_context(request, conversation, name),
        "window_days": settings.INBOX_REPLY_WINDOW_DAYS,
        # The approved templates of this OA (the ZBS app's list; linked by URL name).
        "template_picker_url": (
            reverse("admin:zbs_template_changelist")
            + f"?oa__id__exact={conversation.oa_id}&status__exact=approved"
            if request.user.has_perm("zbs.send_template")
            else ""
        ),
    }


def _top_context(request: HttpRequest, conversation: Conversation, name: str) -> dict[str, Any]:
    """What the thread's top shows (drawn again live when its key changes)."""
    link = conversation.partner_link
    extras = window_extras(conversation)  # the reply window as Zalo's quota says it
    ends = extras["window"].band_ends_at  # type: ignore[attr-defined]
    return {
        **extras,
        "window_ends_ms": int(ends.timestamp() * 1000) if ends else "",
        # The customer's last message the band was asked for (live_parts.thread_delta).
        "window_inbound": live_parts.micros(conversation.last_inbound_at),
        "head_key": live_parts.head_key(conversation, name),
        "partner": link.partner if link else None,
        # "Also writes to:" names only OAs this user acts in: the others are not theirs
        # to know about (issue 13 §3).
        "other_links": (
            link.partner.zalo_links.exclude(pk=link.pk)
            .filter(oa__in=access.visible_oas(request.user))
            .select_related("oa")
            if link
            else []
        ),
        "assignees": _assignees(conversation),
        "follows": link.is_follower if link else None,
    }


def _page(request: HttpRequest, conversation: Conversation | None) -> HttpResponse:
    filters = _filters(request)
    scope = stream.Scope(
        oa_ids=_stream_oas(request, filters["oa_id"], conversation),
        conversation_id=conversation.pk if conversation else None,
        user_id=request.user.pk,
    )
    if conversation is not None:
        # Read before the list is drawn, which would still show them.
        team.mentions_mark_read(user=request.user, conversation=conversation)
    context = {
        **_list_context(request, filters),
        "cursor": stream.encode(stream.cursor_now(scope)),
        "query_string": request.GET.urlencode(),
        "upload_rules": RULES,
        "live_fetch_ms": int(settings.INBOX_LIVE_FETCH_SECONDS * 1000),
    }
    if conversation is not None:
        context.update(_thread_context(request, conversation))
        context.update(offer_extras(request, conversation, context["window"]))
    return render(request, "inbox/inbox.html", context)


@require_GET
@inbox_view
def index(request: HttpRequest) -> HttpResponse:
    return _page(request, None)


@require_GET
@inbox_view
def conversation_page(request: HttpRequest, pk: int) -> HttpResponse:
    return _page(request, _conversation(request, pk))


@require_GET
@inbox_view
def list_part(request: HttpRequest) -> HttpResponse:
    """The list drawn whole, or (with ``since``) as JSON: only what changed since then."""
    filters = _filters(request)
    delta = "since" in request.GET
    raw = request.GET.get("c", "")
    context = {
        **_list_context(request, filters, rows=not delta),
        "query_string": live_parts.page_query(request),
        "current_id": int(raw) if raw.isdigit() else 0,
    }
    if delta:
        return JsonResponse(live_parts.list_delta(request, filters, context))
    return render(request, "inbox/_list_part.html", context)


@require_GET
@inbox_view
def thread_part(request: HttpRequest, pk: int) -> HttpResponse:
    """The thread drawn whole; with ``after``, as JSON, only what changed (live_parts);
    with ``part=offers``, the composer's offers as the reply window is now."""
    conversation = _conversation(request, pk)
    if request.GET.get("part") == "offers":
        window = window_extras(conversation)["window"]
        offers = offer_extras(request, conversation, window)  # type: ignore[arg-type]
        context = {"conversation": conversation, "window": window, **offers}
        return render(request, "inbox/_offers_part.html", context)
    if "after" in request.GET:
        name = services.display_name(conversation)

        def top() -> str:
            context = {
                **team_present.thread_extras(request, conversation, name),
                **_top_context(request, conversation, name),
                "conversation": conversation,
                "name": name,
            }
            return render_to_string("inbox/_thread_top.html", context, request)

        return JsonResponse(live_parts.thread_delta(request, conversation, name, top))
    context = {
        **_thread_context(request, conversation),
        "query_string": live_parts.page_query(request),
    }
    return render(request, "inbox/_thread_part.html", context)


def _refused(message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"ok": False, "error": message, **extra}, status=400)


@require_POST
@inbox_view
def reply(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(request, pk)
    seen = request.POST.get("seen", "")
    try:
        message = services.conversation_reply(
            conversation=conversation,
            actor=request.user,
            text=request.POST.get("text", ""),
            upload=request.FILES.get("file"),
            seen_message_id=int(seen) if seen.isdigit() else None,
        )
    except services.ConcurrentReply as exc:
        latest = Message.objects.filter(
            oa_id=conversation.oa_id, zalo_user_id=conversation.zalo_user_id
        ).order_by("-id")
        return _refused(str(exc), latest_id=latest.values_list("id", flat=True).first() or 0)
    except SendRefused as exc:
        return _refused(str(exc))
    return JsonResponse({"ok": True, "message_id": message.pk})


@require_POST
@inbox_view
def resend(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(
        Message, pk=pk, direction=Direction.OUTBOUND, oa__in=access.visible_oas(request.user)
    )
    try:
        services.inbox_resend(message=message)
    except ActionRefused as exc:
        return _refused(str(exc))
    return JsonResponse({"ok": True})


@require_GET
@inbox_view
def sent_image(request: HttpRequest, pk: int) -> HttpResponse:
    """The copy of an image an agent sent (Zalo gives no address for it)."""
    image = get_object_or_404(
        SentImage.objects.select_related("message"),
        message_id=pk,
        message__oa__in=access.visible_oas(request.user),
    )
    response = HttpResponse(bytes(image.content), content_type=image.content_type)
    response["Cache-Control"] = "private, max-age=86400"  # a sent image never changes
    return response


@require_POST
@inbox_view
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(request, pk)
    # Not "action": a field of that name shadows the form's action property in scripts.
    action = request.POST.get("assignment", "")
    if action == "take":
        won = services.conversation_assign(
            conversation=conversation,
            assignee=request.user,
            actor=request.user,
            only_if_unassigned=True,
        )
        if won:
            team.assignment_recorded(
                conversation=conversation, assignee=request.user, actor=request.user
            )
        if not won:
            holder = conversation.assigned_to
            return _refused(
                _("%(name)s took this conversation first.")
                % {"name": holder.get_username() if holder else _("Someone")}
            )
    elif action == "release":
        if services.conversation_assign(
            conversation=conversation, assignee=None, actor=request.user
        ):
            team.assignment_recorded(conversation=conversation, assignee=None, actor=request.user)
    elif action == "assign":
        chosen = request.POST.get("user", "")
        assignee = next((u for u in _assignees(conversation) if str(u.pk) == chosen), None)
        if assignee is None:
            return _refused(_("Choose an agent who is a member of this OA."))
        if services.conversation_assign(
            conversation=conversation, assignee=assignee, actor=request.user
        ):
            team.assignment_recorded(
                conversation=conversation, assignee=assignee, actor=request.user
            )
    else:
        return _refused(_("Unknown assignment action."))
    return JsonResponse({"ok": True})


def _stream_oas(
    request: HttpRequest, oa_id: int | None, conversation: Conversation | None
) -> tuple[int, ...]:
    if oa_id is not None:
        oas = {oa_id}
    else:
        oas = set(access.visible_oas(request.user).values_list("pk", flat=True))
    if conversation is not None:
        oas.add(conversation.oa_id)
    return tuple(sorted(oas))


@require_GET
@inbox_view
def events(request: HttpRequest) -> StreamingHttpResponse:
    filters = _filters(request)
    conversation = None
    if (raw := request.GET.get("c", "")).isdigit():
        conversation = _conversation(request, int(raw))
    scope = stream.Scope(
        oa_ids=_stream_oas(request, filters["oa_id"], conversation),
        conversation_id=conversation.pk if conversation else None,
        user_id=request.user.pk,
        language=translation.get_language() or settings.LANGUAGE_CODE,
    )
    cursor = stream.decode(request.headers.get("Last-Event-ID") or request.GET.get("cursor", ""))
    response = StreamingHttpResponse(
        stream.events_for(request, scope, cursor), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response
