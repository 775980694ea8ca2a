"""OA tags (openapi host, v2.0, API.md §5): the labels an OA's staff put on its followers.

``gettagsofoa`` lists the OA's tag names; ``tagfollower`` tags a user (Zalo creates the
tag if it is new); ``rmfollowerfromtag`` untags; ``rmtag`` deletes the tag from the OA.
"""

from typing import Any

from zalohub.zalo.transport import ZaloTransport


def _names(data: Any) -> tuple[str, ...]:
    """Zalo answers a list of names; some SDKs show objects with a ``name`` (or
    ``tag_name``): read either, without empties or repeats, in Zalo's order."""
    if isinstance(data, dict):
        data = data.get("tags") or data.get("data") or []
    names: list[str] = []
    for item in data if isinstance(data, list) else []:
        name = item.get("name") or item.get("tag_name") if isinstance(item, dict) else item
        if isinstance(name, str | int) and str(name).strip() and str(name) not in names:
            names.append(str(name).strip())
    return tuple(names)


class TagsAPI:
    def __init__(self, transport: ZaloTransport, base_url: str) -> None:
        self._t = transport
        self._base = base_url

    def _post(self, path: str, endpoint: str, access_token: str, body: dict[str, str]) -> None:
        self._t.request(
            "POST",
            f"{self._base}/v2.0/oa/tag/{path}",
            endpoint=endpoint,
            headers={"access_token": access_token},
            json_body=body,
        )

    def list_tags(self, *, access_token: str) -> tuple[str, ...]:
        body = self._t.request(
            "GET",
            f"{self._base}/v2.0/oa/tag/gettagsofoa",
            endpoint="oa.tag.list",
            headers={"access_token": access_token},
        )
        return _names(body.get("data"))

    def tag_user(self, *, access_token: str, user_id: str, tag_name: str) -> None:
        self._post(
            "tagfollower",
            "oa.tag.tagfollower",
            access_token,
            {"user_id": user_id, "tag_name": tag_name},
        )

    def untag_user(self, *, access_token: str, user_id: str, tag_name: str) -> None:
        self._post(
            "rmfollowerfromtag",
            "oa.tag.rmfollowerfromtag",
            access_token,
            {"user_id": user_id, "tag_name": tag_name},
        )

    def remove_tag(self, *, access_token: str, tag_name: str) -> None:
        self._post("rmtag", "oa.tag.rmtag", access_token, {"tag_name": tag_name})
