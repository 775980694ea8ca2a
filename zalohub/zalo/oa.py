"""Official Account API (openapi host): OA and user profiles, messages, uploads."""

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from zalohub.zalo.transport import ZaloTransport


@dataclass(frozen=True)
class OAProfile:
    oa_id: str
    name: str
    avatar: str
    description: str = ""
    is_verified: bool = False
    num_follower: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class UserProfile:
    user_id: str
    user_id_by_app: str
    display_name: str
    avatar: str
    is_follower: bool | None
    last_interaction_date: str = ""  # Zalo sends "dd/MM/yyyy"
    shared_phone: str = ""
    # What the OA's staff set on Zalo for this user (an alias, tags, notes).
    user_alias: str = ""
    tag_names: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    is_sensitive: bool | None = None  # Zalo's flag for a user under 18
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def last_interaction_on(self) -> date | None:
        """The day of ``last_interaction_date`` ("dd/MM/yyyy"); None when unreadable."""
        try:
            return datetime.strptime(self.last_interaction_date, "%d/%m/%Y").date()
        except ValueError:
            return None


@dataclass(frozen=True)
class SentMessage:
    message_id: str
    user_id: str
    sent_time_ms: int | None
    quota: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UserPage:
    """One page of ``user/getlist``: the ids on it and how many match in all."""

    user_ids: tuple[str, ...]
    total: int
    offset: int
    count: int  # the page size asked for


def _number(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _texts(value: Any) -> tuple[str, ...]:
    """A list of strings from Zalo, without the empty ones; anything else is none."""
    if not isinstance(value, list):
        return ()
    return tuple(str(item) for item in value if isinstance(item, str | int) and str(item))


class OAAPI:
    def __init__(self, transport: ZaloTransport, base_url: str) -> None:
        self._t = transport
        self._base = base_url

    def _get(self, path: str, endpoint: str, access_token: str, data: dict | None = None) -> dict:
        params = {"data": json.dumps(data, separators=(",", ":"))} if data is not None else None
        return self._t.request(
            "GET",
            f"{self._base}{path}",
            endpoint=endpoint,
            headers={"access_token": access_token},
            params=params,
        )

    def _post(self, path: str, endpoint: str, access_token: str, body: dict) -> dict:
        return self._t.request(
            "POST",
            f"{self._base}{path}",
            endpoint=endpoint,
            headers={"access_token": access_token},
            json_body=body,
        )

    def get_oa_profile(self, *, access_token: str) -> OAProfile:
        data = self._get("/v2.0/oa/getoa", "oa.getoa", access_token).get("data") or {}
        return OAProfile(
            oa_id=str(data.get("oa_id") or data.get("oaid") or ""),
            name=str(data.get("name") or ""),
            avatar=str(data.get("avatar") or ""),
            description=str(data.get("description") or ""),
            is_verified=bool(data.get("is_verified")),
            num_follower=data.get("num_follower"),
            raw=data,
        )

    def get_user_detail(self, *, access_token: str, user_id: str) -> UserProfile:
        body = self._get(
            "/v3.0/oa/user/detail", "oa.user.detail", access_token, {"user_id": user_id}
        )
        data = body.get("data") or {}
        avatars = data.get("avatars") or {}
        shared = data.get("shared_info") or {}
        tagged = data.get("tags_and_notes_info") or {}
        return UserProfile(
            user_id=str(data.get("user_id") or user_id),
            user_id_by_app=str(data.get("user_id_by_app") or ""),
            display_name=str(data.get("display_name") or ""),
            avatar=str(avatars.get("240") or data.get("avatar") or ""),
            is_follower=data.get("user_is_follower"),
            last_interaction_date=str(data.get("user_last_interaction_date") or ""),
            shared_phone=str(shared.get("phone") or ""),
            user_alias=str(data.get("user_alias") or ""),
            tag_names=_texts(tagged.get("tag_names")),
            # The documented sample sends notes: [""] for a user without any.
            notes=_texts(tagged.get("notes")),
            is_sensitive=(
                data["is_sensitive"] if isinstance(data.get("is_sensitive"), bool) else None
            ),
            raw=data,
        )

    def list_users(
        self,
        *,
        access_token: str,
        offset: int = 0,
        count: int = 50,
        is_follower: bool | None = None,
        tag_name: str = "",
        last_interaction_period: str = "",
    ) -> UserPage:
        """The OA's users, 50 at most a page (API.md §5); ``last_interaction_period`` is
        TODAY, YESTERDAY, L7D, L30D or ``YYYY_MM_DD:YYYY_MM_DD``."""
        query: dict[str, Any] = {"offset": offset, "count": count}
        if is_follower is not None:
            query["is_follower"] = "true" if is_follower else "false"
        if tag_name:
            query["tag_name"] = tag_name
        if last_interaction_period:
            query["last_interaction_period"] = last_interaction_period
        body = self._get("/v3.0/oa/user/getlist", "oa.user.getlist", access_token, query)
        data = body.get("data") or {}
        users = data.get("users")
        return UserPage(
            user_ids=tuple(
                str(u["user_id"])
                for u in (users if isinstance(users, list) else [])
                if isinstance(u, dict) and u.get("user_id")
            ),
            total=_number(data.get("total")),
            offset=_number(data.get("offset")),
            count=_number(data.get("count")),
        )

    def send_message(
        self, *, access_token: str, recipient: dict[str, str], message: dict[str, Any]
    ) -> SentMessage:
        """Consultation ("cs") message: the one OA message type still sent by UID."""
        body = self._post(
            "/v3.0/oa/message/cs",
            "oa.message.cs",
            access_token,
            {"recipient": recipient, "message": message},
        )
        data = body.get("data") or {}
        sent = data.get("sent_time")
        return SentMessage(
            message_id=str(data.get("message_id") or ""),
            user_id=str(data.get("user_id") or recipient.get("user_id") or ""),
            sent_time_ms=int(sent) if sent not in (None, "") else None,
            quota=data.get("quota") or {},
        )

    def upload(
        self, *, access_token: str, kind: str, filename: str, content: bytes, content_type: str
    ) -> str:
        """Upload an image/gif (returns attachment_id) or a file (returns its token)."""
        if kind not in {"image", "gif", "file"}:
            raise ValueError(f"unknown upload kind {kind!r}")
        body = self._t.request(
            "POST",
            f"{self._base}/v2.0/oa/upload/{kind}",
            endpoint=f"oa.upload.{kind}",
            headers={"access_token": access_token},
            files={"file": (filename, content, content_type)},
        )
        data = body.get("data") or {}
        return str(data.get("token") if kind == "file" else data.get("attachment_id") or "")
