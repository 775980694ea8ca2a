"""Scenarios played against a running hub: customers write, follow, read receipts arrive.

Everything goes through a sandbox's control endpoints over HTTP (the sandbox the hub
talks to, or a private one), so the same script drives the demo's sandbox from another
process. The hub must know the sandbox's apps (app ids and OA secret keys of the demo
world) for the signatures to verify.
"""

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.utils.translation import gettext as _

from zalohub.sandbox.world import SON_PHONE, SON_SALES_USER_ID, SON_SUPPORT_USER_ID

SCENARIOS = ("chat", "follow", "son", "all")
# What customers send in the chat scenario, in turn.
CHAT_KINDS = ("text", "image", "sticker", "text", "location", "file", "link")
CHAT_TEXTS = (
    "Chào shop, đơn hàng của tôi đã giao chưa?",
    "Cho tôi xin báo giá mẫu mới nhất.",
    "Tôi muốn đổi địa chỉ nhận hàng.",
    "Cảm ơn, tôi đã nhận được hàng.",
)


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    emitted: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    idle: bool = True

    def states(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for delivery in self.deliveries:
            counts[delivery["state"]] = counts.get(delivery["state"], 0) + 1
        return counts


class Simulator:
    def __init__(
        self,
        *,
        sandbox_url: str,
        hub: str,
        http: httpx.Client | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.base = sandbox_url.rstrip("/")
        self.hub = hub.rstrip("/")
        self.http = http or httpx.Client(timeout=70.0, trust_env=False)
        self.report = Report()
        self._say = say

    def say(self, line: str) -> None:
        self.report.lines.append(line)
        if self._say:
            self._say(line)

    def control(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = self.http.request(
            method, f"{self.base}/_sandbox/{path}", json=body, params=params or None
        )
        if response.status_code >= 400:
            raise RuntimeError(f"{method} /_sandbox/{path}: {response.text[:300]}")
        return response.json()

    # --- steps ---------------------------------------------------------------------------
    def point_webhooks(self, *, time_factor: float, receipt_delay: float | None) -> None:
        body = {"hub": self.hub, "time_factor": time_factor, "receipt_delay": receipt_delay}
        answer = self.control("POST", "webhooks", body)
        for app_id, url in answer["targets"].items():
            self.say(_("App %(app)s: webhooks go to %(url)s") % {"app": app_id, "url": url})
        for app_id in answer.get("unsubscribed", []):
            # Said, not undone: a silent webhook is what the hub's health check must see.
            self.say(
                _(
                    "App %(app)s is unsubscribed from webhooks (sandbox scenario "
                    "silent_webhook): nothing is delivered to it until the scenario is "
                    "undone (DELETE %(url)s)."
                )
                % {"app": app_id, "url": f"{self.base}/_sandbox/scenarios/silent_webhook"}
            )

    def _world(self) -> dict[str, Any]:
        return self.control("GET", "state")["world"]

    def _customer(self, action: str, user: dict[str, Any], oa_name: str, **body: Any) -> None:
        body = {"oa_id": user["oa_id"], "user_id": user["user_id"], **body}
        emitted = self.control("POST", f"customers/{action}", body)["emitted"]
        self.report.emitted += emitted
        flags = " ".join(f"{k}={body[k]}" for k in ("duplicate", "corrupt") if body.get(k))
        for item in emitted:
            line = _("%(customer)s -> %(oa)s: %(event)s %(msg)s (deliveries %(ids)s)") % {
                "customer": user["display_name"],
                "oa": oa_name,
                "event": item["event_name"],
                "msg": item["msg_id"] or "-",
                "ids": ", ".join(f"#{i}" for i in item["deliveries"]),
            }
            self.say(f"{line} {flags}".rstrip())

    def chat(self, *, duplicate: int = 0, corrupt: str | None = None) -> None:
        world = self._world()
        names = {oa["oa_id"]: oa["name"] for oa in world["oas"]}
        kinds, texts = itertools.cycle(CHAT_KINDS), itertools.cycle(CHAT_TEXTS)
        first = True
        for user in world["users"]:
            if not user["is_follower"]:
                continue
            kind = next(kinds)
            body: dict[str, Any] = {"kind": kind, "text": next(texts) if kind == "text" else ""}
            if duplicate:
                body["duplicate"] = duplicate
            self._customer("message", user, names[user["oa_id"]], **body)
            if first and corrupt:
                # One forged copy next to the genuine messages: the hub must refuse it.
                self._customer(
                    "message", user, names[user["oa_id"]], kind="text", text="?", corrupt=corrupt
                )
            first = False
        emitted = self.control("POST", "messages/receipts", {"seen": True})["emitted"]
        self.report.emitted += emitted
        if emitted:
            for item in emitted:
                self.say(
                    _("Receipt %(event)s for OA message %(msg)s")
                    % {"event": item["event_name"], "msg": item["msg_id"]}
                )
        else:
            self.say(_("No OA messages are waiting for receipts."))

    def follow(self, *, duplicate: int = 0, corrupt: str | None = None) -> None:
        world = self._world()
        names = {oa["oa_id"]: oa["name"] for oa in world["oas"]}
        options = {k: v for k, v in (("duplicate", duplicate), ("corrupt", corrupt)) if v}
        followers = [u for u in world["users"] if u["is_follower"]]
        for user in world["users"]:
            if not user["is_follower"]:
                self._customer("follow", user, names[user["oa_id"]], **options)
        if followers:
            user = followers[-1]
            self._customer("unfollow", user, names[user["oa_id"]], **options)
            self._customer("follow", user, names[user["oa_id"]], source="message_invite")
            self._customer("submit_info", followers[0], names[followers[0]["oa_id"]], **options)

    def son(self) -> None:
        """Mr. Son writes to the Support OA (app A) and the Sales OA (app B), then shares
        the same phone on each: the hub should end with one partner, two links."""
        world = self._world()
        names = {oa["oa_id"]: oa["name"] for oa in world["oas"]}
        ids = {SON_SUPPORT_USER_ID, SON_SALES_USER_ID}
        for user in (u for u in world["users"] if u["user_id"] in ids):
            oa_name = names[user["oa_id"]]
            self._customer("message", user, oa_name, kind="text", text="Tôi cần báo giá.")
            info = {"name": "Nguyễn Văn Sơn", "phone": SON_PHONE}
            self._customer("submit_info", user, oa_name, info=info)

    def finish(self, *, wait: float) -> Report:
        log = self.control("GET", "webhooks/deliveries", wait=wait)
        self.report.deliveries, self.report.idle = log["deliveries"], log["idle"]
        for delivery in log["deliveries"]:
            statuses = ", ".join(
                str(a["status"]) if a["status"] is not None else a["error"][:40]
                for a in delivery["attempts"]
            )
            tags = [t for t in (delivery["corrupt"], delivery["copy_of"] and "duplicate") if t]
            line = _("#%(id)s %(event)s -> app %(app)s: %(state)s [%(statuses)s]") % {
                "id": delivery["id"],
                "event": delivery["event_name"],
                "app": delivery["app_id"],
                "state": delivery["state"],
                "statuses": statuses,
            }
            self.say(f"{line} ({', '.join(tags)})" if tags else line)
        summary = ", ".join(f"{n} {state}" for state, n in sorted(self.report.states().items()))
        self.say(
            _("Deliveries: %(count)d (%(summary)s)")
            % {"count": len(log["deliveries"]), "summary": summary or "-"}
        )
        if not log["idle"]:
            self.say(
                _("Still retrying after %(wait)s s; see %(url)s")
                % {"wait": f"{wait:g}", "url": f"{self.base}/_sandbox/webhooks/deliveries"}
            )
        return self.report


def run_scenario(
    *,
    sandbox_url: str,
    hub: str,
    scenario: str = "chat",
    duplicate: int = 0,
    corrupt: str | None = None,
    time_factor: float = 0.001,
    receipt_delay: float | None = 0.5,
    wait: float = 30.0,
    say: Callable[[str], None] | None = None,
) -> Report:
    """Play ``scenario`` through the sandbox at ``sandbox_url`` against the hub at ``hub``."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; expected one of {SCENARIOS}")
    with httpx.Client(timeout=wait + 10.0, trust_env=False) as http:
        sim = Simulator(sandbox_url=sandbox_url, hub=hub, http=http, say=say)
        sim.point_webhooks(time_factor=time_factor, receipt_delay=receipt_delay)
        if scenario in ("chat", "all"):
            sim.chat(duplicate=duplicate, corrupt=corrupt)
        if scenario in ("follow", "all"):
            sim.follow(duplicate=duplicate, corrupt=corrupt)
        if scenario in ("son", "all"):
            sim.son()
        return sim.finish(wait=wait)
