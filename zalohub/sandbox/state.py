"""The sandbox's whole memory: the world, tokens, clock, faults, calls; optionally on disk.

One ``SandboxState`` is active per process (``get_state()``); the server sets it when it
starts. Every change happens under one re-entrant lock, because the server answers each
request on its own thread.
"""

import contextlib
import copy
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, NamedTuple

from zalohub.sandbox.faults import Fault, route_matches
from zalohub.sandbox.mailbox import Mailbox
from zalohub.sandbox.tokens import TokenBook, TokenPair
from zalohub.sandbox.webhooks import Emitter, check_target
from zalohub.sandbox.znsbook import ZnsBook

logger = logging.getLogger(__name__)

FILE_VERSION = 1
DEFAULT_RATE_LIMIT = 4000  # OA API requests per app per minute (API.md §6)


class Call(NamedTuple):
    route: str
    at: float  # sandbox clock, epoch seconds
    app_id: str | None


_APP_DEFAULTS: dict[str, Any] = {
    "name": "",
    "secret_key": "",
    "oa_secret_key": "",
    "redirect_uris": [],
    "pinned_code_challenge": None,
    "webhook_url": "",  # set in Zalo's console per app; the emitter POSTs events there
    # Zalo unsubscribed the app from webhooks (scenario silent_webhook): nothing is
    # delivered whatever its URL, until the app subscribes again (the scenario's undo).
    "unsubscribed": False,
}
_OA_DEFAULTS: dict[str, Any] = {
    "name": "",
    "description": "",
    "oa_alias": "",
    "avatar": "",
    "cover": "",
    "is_verified": False,
    "oa_type": 2,
    "cate_name": "",
    "num_follower": 0,
}
_USER_DEFAULTS: dict[str, Any] = {
    "person": "",
    "user_id_by_app": {},
    "display_name": "",
    "user_alias": "",
    "avatar": "",
    "is_follower": True,
    "is_sensitive": False,
    "last_interaction": None,
    "shared_info": {},
    "tag_names": [],
    "notes": [],
}


def _records(world: dict[str, Any], key: str, id_field: str) -> list[dict[str, Any]]:
    items = world.get(key, [])
    if not isinstance(items, list) or not all(
        isinstance(item, dict) and item.get(id_field) for item in items
    ):
        raise ValueError(f"world[{key!r}] must be a list of objects, each with {id_field!r}")
    return items


class SandboxState:
    def __init__(
        self, world: dict[str, Any] | None = None, persist_path: str | Path | None = None
    ) -> None:
        self.lock = threading.RLock()
        self.persist_path = Path(persist_path) if persist_path else None
        self.apps: dict[str, dict[str, Any]] = {}
        self.oas: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, dict[str, Any]]] = {}
        self.tokens = TokenBook()
        self.faults: list[Fault] = []
        self.calls: list[Call] = []
        self.clock_offset = 0.0
        self.rate_limit = DEFAULT_RATE_LIMIT
        self._rate: dict[str, tuple[int, int]] = {}  # app_id -> (minute, calls in it)
        self.mailbox = Mailbox()
        self.zns = ZnsBook()  # ZBS templates, quotas and sends (memory only)
        self.webhooks = Emitter()
        self.base_url = ""  # where the server listens, for absolute media URLs in events
        if self.persist_path and self.persist_path.exists() and self._load():
            return
        self.reset(world)

    # --- clock ---------------------------------------------------------------------------
    def now(self) -> float:
        """Real time plus the offset tests move forward to expire codes and tokens."""
        return time.time() + self.clock_offset

    def advance_clock(self, seconds: float) -> float:
        with self.changing():
            self.clock_offset += float(seconds)
            return self.now()

    # --- the world -----------------------------------------------------------------------
    def reset(self, world: dict[str, Any] | None = None) -> None:
        """Start over from ``world`` (the demo world by default): no tokens, faults, calls."""
        if world is None:
            from zalohub.sandbox.world import demo_world

            world = demo_world()
        apps, oas, users = self._ingest(world)
        with self.changing():
            self.apps, self.oas, self.users = apps, oas, users
            self.rate_limit = int(world.get("rate_limit_per_minute") or DEFAULT_RATE_LIMIT)
            self.tokens = TokenBook()
            self.faults = []
            self.calls = []
            self.clock_offset = 0.0
            self._rate = {}
            self.mailbox = Mailbox()
            self.zns = ZnsBook()
            self.webhooks.reset()
            # A call stalled by a "timeout" fault must not finish its work in the next
            # world (a test's reset): it compares this before doing it.
            self.epoch = getattr(self, "epoch", 0) + 1

    @staticmethod
    def _ingest(world: dict[str, Any]) -> tuple[dict, dict, dict]:
        if not isinstance(world, dict):
            raise ValueError("a world must be a JSON object with apps, oas and users")
        # Deep copies: the caller's world must not change when the sandbox's does.
        world = copy.deepcopy(world)
        apps = {
            a["app_id"]: {**copy.deepcopy(_APP_DEFAULTS), "oa_ids": [], **a}
            for a in _records(world, "apps", "app_id")
        }
        oas = {
            o["oa_id"]: {**copy.deepcopy(_OA_DEFAULTS), "app_ids": [], **o}
            for o in _records(world, "oas", "oa_id")
        }
        # An app and an OA are linked if either side says so; both lists end up agreeing.
        for app_id, app in apps.items():
            if app["webhook_url"]:
                check_target(app["webhook_url"])
            for oa_id in app["oa_ids"]:
                if oa_id not in oas:
                    raise ValueError(f"app {app_id} lists unknown OA {oa_id}")
        for oa_id, oa in oas.items():
            for app_id in oa["app_ids"]:
                if app_id not in apps:
                    raise ValueError(f"OA {oa_id} lists unknown app {app_id}")
        for app_id, app in apps.items():
            linked = [o for o in oas if o in app["oa_ids"] or app_id in oas[o]["app_ids"]]
            app["oa_ids"] = linked
            for oa_id in linked:
                if app_id not in oas[oa_id]["app_ids"]:
                    oas[oa_id]["app_ids"] = [*oas[oa_id]["app_ids"], app_id]
        users: dict[str, dict[str, dict[str, Any]]] = {oa_id: {} for oa_id in oas}
        for raw in _records(world, "users", "user_id"):
            if raw.get("oa_id") not in oas:
                raise ValueError(f"user {raw['user_id']} belongs to unknown OA {raw.get('oa_id')}")
            user = {**copy.deepcopy(_USER_DEFAULTS), **raw}
            user["shared_info"] = dict(user["shared_info"] or {})
            if user.get("phone"):  # shorthand for a phone the user shared with the OA
                user["shared_info"].setdefault("phone", user.pop("phone"))
            users[user["oa_id"]][user["user_id"]] = user
        return apps, oas, users

    def export_world(self) -> dict[str, Any]:
        """The current world in the JSON shape ``reset`` accepts."""
        with self.lock:
            return json.loads(
                json.dumps(
                    {
                        "rate_limit_per_minute": self.rate_limit,
                        "apps": list(self.apps.values()),
                        "oas": list(self.oas.values()),
                        "users": [u for per_oa in self.users.values() for u in per_oa.values()],
                    }
                )
            )

    def oa_ids_of(self, app_id: str) -> list[str]:
        app = self.apps.get(app_id)
        return [o for o in (app or {}).get("oa_ids", []) if o in self.oas]

    def mint_tokens(self, app_id: str, oa_id: str) -> TokenPair:
        """A token pair without the consent dance, as Zalo's API Explorer hands one out."""
        if oa_id not in self.oa_ids_of(app_id):
            raise ValueError(f"app {app_id} is not linked to OA {oa_id}")
        with self.changing():
            return self.tokens.mint(app_id=app_id, oa_id=oa_id, now=self.now())

    # --- faults --------------------------------------------------------------------------
    def add_fault(
        self,
        endpoint: str,
        mode: str,
        *,
        code: int | None = None,
        message: str = "",
        times: int | None = None,
        delay: float = 15.0,
        retry_after: int = 1,
    ) -> Fault:
        fault = Fault(
            endpoint=endpoint,
            mode=mode,
            code=code,
            message=message,
            times=times,
            delay=delay,
            retry_after=retry_after,
        )
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults = []

    def take_fault(self, route: str) -> Fault | None:
        """The first fault armed for ``route``, counted as fired (and dropped when spent)."""
        with self.lock:
            for fault in self.faults:
                if route_matches(fault.endpoint, route):
                    fault.fired += 1
                    if fault.exhausted:
                        self.faults.remove(fault)
                    return fault
        return None

    # --- call accounting and rate limit --------------------------------------------------
    def record_call(self, route: str, app_id: str | None) -> None:
        with self.lock:
            self.calls.append(Call(route, self.now(), app_id))

    def call_count(self, endpoint_prefix: str = "*") -> int:
        with self.lock:
            return sum(1 for c in self.calls if route_matches(endpoint_prefix, c.route))

    def spend_rate(self, app_id: str) -> int:
        """Count one OA API call for ``app_id``; return what is left this minute (< 0: over)."""
        with self.lock:
            minute = int(self.now() // 60)  # Zalo's limit resets each minute
            start, used = self._rate.get(app_id, (minute, 0))
            used = used + 1 if start == minute else 1
            self._rate[app_id] = (minute, used)
            return self.rate_limit - used

    # --- persistence ---------------------------------------------------------------------
    @contextlib.contextmanager
    def changing(self) -> Iterator[None]:
        """Hold the lock for a change; save it to disk afterwards (unless it raised)."""
        with self.lock:
            yield
            self.save()

    def save(self) -> None:
        if not self.persist_path:
            return
        with self.lock:
            payload = {
                "version": FILE_VERSION,
                "world": self.export_world(),
                "tokens": self.tokens.to_dict(),
                "clock_offset": self.clock_offset,
            }
            path = self.persist_path
            path.parent.mkdir(parents=True, exist_ok=True)
            # Temp file + rename: a crash mid-write leaves the previous state, never half.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(payload, handle, ensure_ascii=False, indent=1)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise

    def _load(self) -> bool:
        """Load the state file; a broken one is set aside (and said so) rather than fatal."""
        assert self.persist_path is not None
        try:
            payload = json.loads(self.persist_path.read_text(encoding="utf-8"))
            if payload.get("version") != FILE_VERSION:
                raise ValueError(f"unsupported state file version {payload.get('version')!r}")
            apps, oas, users = self._ingest(payload["world"])
            tokens = TokenBook.from_dict(payload.get("tokens") or {})
            offset = float(payload.get("clock_offset") or 0.0)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            aside = self.persist_path.with_name(self.persist_path.name + ".broken")
            logger.warning(
                "Sandbox state file %s is unusable (%s); moved to %s, starting over",
                self.persist_path,
                exc,
                aside,
            )
            with contextlib.suppress(OSError):
                os.replace(self.persist_path, aside)
            return False
        self.apps, self.oas, self.users, self.tokens = apps, oas, users, tokens
        self.clock_offset = offset
        self.rate_limit = int(payload["world"].get("rate_limit_per_minute") or DEFAULT_RATE_LIMIT)
        return True

    # --- reporting -----------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything, tokens included: the sandbox holds no real secret."""
        with self.lock:
            now = self.now()
            return {
                "now": now,
                "clock_offset": self.clock_offset,
                "world": self.export_world(),
                "codes": [{"code": k, **v} for k, v in self.tokens.codes.items()],
                "access_tokens": [
                    {"access_token": k, **v, "status": self.tokens.status_of(k, now)}
                    for k, v in self.tokens.access.items()
                ],
                "refresh_tokens": [
                    {"refresh_token": k, **v} for k, v in self.tokens.refresh.items()
                ],
                "faults": [f.as_dict() for f in self.faults],
                "call_count": len(self.calls),
                "mailbox": self.mailbox.counts(),
                "webhooks": {
                    **asdict(self.webhooks.config),
                    "targets": {a: app["webhook_url"] for a, app in self.apps.items()},
                    "pending": self.webhooks.pending(),
                },
            }


_active: SandboxState | None = None


def set_state(state: SandboxState | None) -> None:
    global _active
    _active = state


def get_state() -> SandboxState:
    """The state the running sandbox serves (one sandbox per process)."""
    if _active is None:
        raise RuntimeError("No sandbox is running in this process (start a SandboxServer).")
    return _active
