"""Named break-and-fix scenarios, one per error category of the troubleshooting guide,
for tests and the demo: ``POST /_sandbox/scenarios/<name>`` breaks, ``DELETE`` undoes
what the sandbox itself broke. The hub's side of the fix (authorize again, enter the
new OA secret key, fix the phone) stays the hub's, as with real Zalo.

Scenarios act on one OA (``oa_id``) or app (``app_id``), or on all of them."""

import secrets
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zalohub.sandbox.faults import Fault
from zalohub.sandbox.state import SandboxState

Step = Callable[[SandboxState, dict[str, Any]], dict[str, Any]]  # (state, request body)


@dataclass(frozen=True)
class Scenario:
    name: str
    category: str  # the guide's error group the hub should name
    description: str
    apply: Step
    undo: Step


# What each state's scenarios changed, so DELETE can put it back.
_saved: "weakref.WeakKeyDictionary[SandboxState, dict[str, Any]]" = weakref.WeakKeyDictionary()


def _memory(state: SandboxState) -> dict[str, Any]:
    return _saved.setdefault(state, {})


def _apps(state: SandboxState, spec: dict[str, Any]) -> list[str]:
    if spec.get("app_id"):
        if spec["app_id"] not in state.apps:
            raise ValueError(f"unknown app {spec['app_id']}")
        return [spec["app_id"]]
    if spec.get("oa_id"):
        return list(_oas(state, spec) and state.oas[spec["oa_id"]]["app_ids"])
    return list(state.apps)


def _oas(state: SandboxState, spec: dict[str, Any]) -> list[str]:
    if spec.get("oa_id"):
        if spec["oa_id"] not in state.oas:
            raise ValueError(f"unknown OA {spec['oa_id']}")
        return [spec["oa_id"]]
    return list(state.oas)


# Where a template send goes (urls.py): a ZNS scenario breaks only that route.
ZNS_SEND_ROUTE = "zns.message.template"


# --- token ---------------------------------------------------------------------------------
def _expire_tokens(state: SandboxState, spec: dict[str, Any]) -> dict[str, Any]:
    oas = set(_oas(state, spec))
    with state.changing():
        now = state.now()
        book = state.tokens
        for record in book.access.values():
            if record["oa_id"] in oas:
                record["expires_at"] = min(record["expires_at"], now - 1)
        # The refresh tokens die too: only authorizing again brings the OA back.
        book.refresh = {k: v for k, v in book.refresh.items() if v["oa_id"] not in oas}
    return {"oa_ids": sorted(oas)}


def _nothing(state: SandboxState, spec: dict[str, Any]) -> dict[str, Any]:
    return {"note": "fixed on the hub's side"}


# --- webhook -------------------------------------------------------------------------------
def _silence(state: SandboxState, spec: dict[str, Any]) -> dict[str, Any]:
    # As after Zalo gave up retrying: the app is unsubscribed from webhooks. A flag, not
    # a cleared URL, so that pointing the webhooks at a hub again (``simulate`` does, on
    # every run) does not silently undo it: only this scenario's DELETE does.
    app_ids = _apps(state, spec)
    with state.changing():
        for app_id in app_ids:
            state.apps[app_id]["unsubscribed"] = True
    return {"app_ids": sorted(app_ids)}


def _unsilence(state: SandboxState, spec: dict[str, Any]) -> dict[str, Any]:
    with state.changing():
        app_ids = [a for a, app in state.apps.items() if app.get("unsubscribed")]
        for app_id in app_ids:
            state.apps[app_id]["unsubscribed"] = False
    return {"app_ids": sorted(app_ids)}


def _reset_secret(state: SandboxState, spec: dict[str, Any]) -> dict[str, Any]:
    saved = _memory(state).setdefault("oa_secret_key", {})
    keys = {}
    with state.changing():
        for app_id in _apps(state, spec):
            saved.setdefault(app_id, state.apps[app_id]["oa_secret_key"])
            # The console's Reset button: Zalo signs with a key the hub does not have.
            keys[app_id] = secrets.token_urlsafe(15)
            state.apps[app_id]["oa_secret_key"] = keys[app_id]
    return {"oa_secret_keys": keys}


def _restore_secret(state: SandboxState, spec: dict[str, Any]) -> dict[str, Any]:
    saved = _memory(state).pop("oa_secret_key", {})
    with state.changing():
        for app_id, key in saved.items():
            if app_id in state.apps:
                state.apps[app_id]["oa_secret_key"] = key
    return {"app_ids": sorted(saved)}


# --- faults (send, template, recipient) -----------------------------------------------------
def _fault(
    name: str, mode: str, code: int | None = None, zns: bool = False, route: str = "*"
) -> Step:
    def apply(state: SandboxState, spec: dict[str, Any]) -> dict[str, Any]:
        endpoint = str(spec.get("endpoint") or (ZNS_SEND_ROUTE if zns else route))
        fault = state.add_fault(endpoint, mode, code=code)
        _memory(state).setdefault("faults", {}).setdefault(name, []).append(fault)
        return {"fault": fault.as_dict()}

    return apply


def _unfault(name: str) -> Step:
    def undo(state: SandboxState, spec: dict[str, Any]) -> dict[str, Any]:
        mine: list[Fault] = _memory(state).get("faults", {}).pop(name, [])
        with state.lock:
            state.faults = [f for f in state.faults if not any(f is m for m in mine)]
        return {"removed": len(mine)}

    return undo


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "expired_token",
            "token",
            "Every token of the OA expires; refresh is refused (-14014).",
            _expire_tokens,
            _nothing,
        ),
        Scenario(
            "silent_webhook",
            "webhook",
            "Zalo stops delivering the app's webhooks (no webhook URL).",
            _silence,
            _unsilence,
        ),
        Scenario(
            "wrong_secret",
            "webhook",
            "The OA secret key is reset in the console: signatures stop matching the hub's.",
            _reset_secret,
            _restore_secret,
        ),
        Scenario(
            "zalo_5xx",
            "send",
            "Zalo answers every call with 503 until undone.",
            _fault("zalo_5xx", "http_503"),
            _unfault("zalo_5xx"),
        ),
        Scenario(
            "oa_banned",
            "send",
            "The OA's message sends are refused: -227 banned or inactive (held, not failed).",
            _fault("oa_banned", "zalo_error", -227, route="oa.message"),
            _unfault("oa_banned"),
        ),
        Scenario(
            "rejected_template",
            "template",
            "Template sends are refused: -131 template not approved.",
            _fault("rejected_template", "zalo_error", -131, zns=True),
            _unfault("rejected_template"),
        ),
        Scenario(
            "quota_exhausted",
            "send",
            "The OA's daily quota is spent: -144.",
            _fault("quota_exhausted", "zalo_error", -144, zns=True),
            _unfault("quota_exhausted"),
        ),
        Scenario(
            "missing_phone",
            "recipient",
            "The recipient has no valid phone: -108.",
            _fault("missing_phone", "zalo_error", -108, zns=True),
            _unfault("missing_phone"),
        ),
    )
}


def scenario_apply(state: SandboxState, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    scenario = SCENARIOS[name]
    return {"scenario": name, "category": scenario.category, **scenario.apply(state, spec)}


def scenario_undo(state: SandboxState, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"scenario": name, "undone": True, **SCENARIOS[name].undo(state, spec)}
