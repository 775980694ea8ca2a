"""Control endpoints for the break-and-fix scenarios (scenarios.py); loopback only."""

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from zalohub.sandbox import responses
from zalohub.sandbox.control import BadRequest, _body, control
from zalohub.sandbox.scenarios import SCENARIOS, scenario_apply, scenario_undo
from zalohub.sandbox.state import SandboxState


@control("GET")
def scenarios_view(request: HttpRequest, state: SandboxState) -> HttpResponse:
    return responses.json(
        {
            "scenarios": [
                {"name": s.name, "category": s.category, "description": s.description}
                for s in SCENARIOS.values()
            ]
        }
    )


@control("POST", "DELETE")
def scenario_view(request: HttpRequest, state: SandboxState, name: str) -> HttpResponse:
    """POST breaks, DELETE undoes; body ``{"oa_id"?, "app_id"?, "endpoint"?}``."""
    if name not in SCENARIOS:
        raise BadRequest(
            _("Unknown scenario; one of: %(names)s.") % {"names": ", ".join(SCENARIOS)}
        )
    spec = _body(request) or {}
    if set(spec) - {"oa_id", "app_id", "endpoint"}:
        raise BadRequest(_("A scenario may have: app_id, endpoint, oa_id."))
    try:
        if request.method == "DELETE":
            return responses.json(scenario_undo(state, name, spec))
        return responses.json(scenario_apply(state, name, spec), status=201)
    except (TypeError, ValueError) as exc:
        raise BadRequest(str(exc)) from None
