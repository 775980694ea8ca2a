"""Conversation history and the per-user quota (openapi host, API.md §5).

``listrecentchat`` (v2.0) lists the OA's latest message per conversation, newest first;
``conversation`` (v2.0) the messages of one user, newest first; both take at most 10 a
request. ``quota/message`` (v3.0) says, for one user, whether a free consultation reply
is possible now (``cs_reply``) and when the user last interacted.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from zalohub.zalo.transport import ZaloTransport

PAGE = 10  # Zalo's most per request for both history calls


@dataclass(frozen=True)
class HistoryMessage:
    message_id: str
    from_user: bool  # src 1: the user wrote it; 0: the OA did
    user_id: str  # the Zalo user of the conversation, whichever way it went
    kind: str  # Zalo's "type": text, photo, sticker, link, voice, gif, location, file...
    text: str
    time: datetime | None
    user_name: str = ""
    user_avatar: str = ""
    attachment_url: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class UserQuota:
    """What Zalo says about replying to one user now."""

    last_interaction: datetime | None
    # None: Zalo said nothing about cs_reply (the local window decides).
    reply_remain: int | None
    reply_total: int | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def free_reply(self) -> bool | None:
        if self.reply_remain is None:
            return None
        return self.reply_remain > 0


@dataclass(frozen=True)
class QuotaAsset:
    """A paid quota an OA or app holds (``quota/message`` by ``quota_owner``)."""

    asset_id: str
    product_type: str  # "cs" (consultation), "transaction", ...
    quota_type: str  # "sub_quota", ...
    valid_through: date | None  # Zalo sends "dd/MM/yyyy"
    total: int | None
    remain: int | None


def _day(raw: Any) -> date | None:
    try:
        return datetime.strptime(str(raw), "%d/%m/%Y").date()
    except ValueError:
        return None


def _time(raw: Any) -> datetime | None:
    try:
        millis = int(str(raw))
    except (TypeError, ValueError):
        return None
    if not 10**11 <= millis < 10**14:
        return None
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def _int(raw: Any) -> int | None:
    try:
        return int(str(raw)) if raw not in (None, "") else None
    except ValueError:
        return None


def _message(item: dict[str, Any]) -> HistoryMessage:
    from_user = str(item.get("src")) == "1"
    user = "from" if from_user else "to"
    message = item.get("message")
    url = item.get("url") or item.get("thumb") or ""
    return HistoryMessage(
        message_id=str(item.get("message_id") or item.get("msg_id") or ""),
        from_user=from_user,
        user_id=str(item.get(f"{user}_id") or ""),
        kind=str(item.get("type") or "text"),
        text=message if isinstance(message, str) else "",
        time=_time(item.get("time")),
        user_name=str(item.get(f"{user}_display_name") or ""),
        user_avatar=str(item.get(f"{user}_avatar") or ""),
        attachment_url=str(url) if isinstance(url, str) else "",
        raw=item,
    )


class HistoryAPI:
    def __init__(self, transport: ZaloTransport, base_url: str) -> None:
        self._t = transport
        self._base = base_url

    def _get(self, path: str, endpoint: str, access_token: str, data: dict[str, Any]) -> Any:
        body = self._t.request(
            "GET",
            f"{self._base}{path}",
            endpoint=endpoint,
            headers={"access_token": access_token},
            params={"data": json.dumps(data, separators=(",", ":"))},
        )
        return body.get("data")

    def recent_chats(
        self, *, access_token: str, offset: int = 0, count: int = PAGE
    ) -> list[HistoryMessage]:
        data = self._get(
            "/v2.0/oa/listrecentchat",
            "oa.listrecentchat",
            access_token,
            {"offset": offset, "count": min(count, PAGE)},
        )
        return [_message(i) for i in data if isinstance(i, dict)] if isinstance(data, list) else []

    def conversation(
        self, *, access_token: str, user_id: str, offset: int = 0, count: int = PAGE
    ) -> list[HistoryMessage]:
        data = self._get(
            "/v2.0/oa/conversation",
            "oa.conversation",
            access_token,
            {"user_id": user_id, "offset": offset, "count": min(count, PAGE)},
        )
        return [_message(i) for i in data if isinstance(i, dict)] if isinstance(data, list) else []

    def user_quota(self, *, access_token: str, user_id: str) -> UserQuota:
        body = self._t.request(
            "POST",
            f"{self._base}/v3.0/oa/quota/message",
            endpoint="oa.quota.message",
            headers={"access_token": access_token},
            json_body={"user_id": user_id},
        )
        data = body.get("data")
        data = data if isinstance(data, dict) else {}
        reply = data.get("cs_reply")
        reply = reply if isinstance(reply, dict) else {}
        return UserQuota(
            last_interaction=_time(data.get("last_interaction")),
            reply_remain=_int(reply.get("remain")),
            reply_total=_int(reply.get("total")),
            raw=data,
        )

    def quota_assets(
        self, *, access_token: str, owner: str = "OA", product_type: str = "", quota_type: str = ""
    ) -> tuple[QuotaAsset, ...]:
        """The quota assets ``owner`` ("OA" or "App") holds, optionally of one product
        ("cs", "transaction") and quota type."""
        query = {"quota_owner": owner}
        if product_type:
            query["product_type"] = product_type
        if quota_type:
            query["quota_type"] = quota_type
        body = self._t.request(
            "POST",
            f"{self._base}/v3.0/oa/quota/message",
            endpoint="oa.quota.assets",
            headers={"access_token": access_token},
            json_body=query,
        )
        data = body.get("data")
        return tuple(
            QuotaAsset(
                asset_id=str(item.get("asset_id") or ""),
                product_type=str(item.get("product_type") or ""),
                quota_type=str(item.get("quota_type") or ""),
                valid_through=_day(item.get("valid_through")),
                total=_int(item.get("total")),
                remain=_int(item.get("remain")),
            )
            for item in (data if isinstance(data, list) else [])
            if isinstance(item, dict)
        )
