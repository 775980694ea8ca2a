"""Once the customer's free reply window has closed, the composer sends in one step what
the agent chose among the offers another app registered with ``events.window_offers``
(zbs: the OA's Approved templates, filled from the customer; issue 19)."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_POST

from zalohub.events.window_offers import OfferRefused, window_offer_send
from zalohub.inbox.rollup import notify_on_commit
from zalohub.inbox.views import _conversation, inbox_view


@require_POST
@inbox_view
def offer_send(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(request, pk)
    prefix = "param_"
    values = {
        name[len(prefix) :]: request.POST.get(name, "").strip()
        for name in request.POST
        if name.startswith(prefix)
    }
    try:
        message = window_offer_send(
            provider=request.POST.get("provider", ""),
            key=request.POST.get("key", ""),
            oa=conversation.oa,
            link=conversation.partner_link,
            values=values,
            actor=request.user,
        )
    except OfferRefused as exc:
        return JsonResponse({"ok": False, "error": exc.message}, status=400)
    notify_on_commit(conversation.oa_id)
    return JsonResponse({"ok": True, "message_id": message.pk})
