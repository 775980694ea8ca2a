"""Everything that knows Zalo's wire format. No models; settings only for base URLs."""

import threading

from django.conf import settings
from django.core.signals import setting_changed

from zalohub.zalo.context import call_context
from zalohub.zalo.errors import ErrorKind, ZaloError
from zalohub.zalo.history import HistoryAPI
from zalohub.zalo.oa import OAAPI
from zalohub.zalo.oauth import OAuthAPI
from zalohub.zalo.tags import TagsAPI
from zalohub.zalo.transport import ZaloTransport
from zalohub.zalo.zns import ZNSAPI

__all__ = ["ErrorKind", "ZaloClient", "ZaloError", "call_context", "get_client"]


class ZaloClient:
    """One client over one transport, with an attribute per Zalo API family."""

    def __init__(
        self, *, oauth_url: str, openapi_url: str, business_url: str, transport: ZaloTransport
    ) -> None:
        self.transport = transport
        self.oauth = OAuthAPI(transport, oauth_url)
        self.oa = OAAPI(transport, openapi_url)
        self.zns = ZNSAPI(transport, business_url, openapi_url)
        self.tags = TagsAPI(transport, openapi_url)
        self.history = HistoryAPI(transport, openapi_url)


_client: ZaloClient | None = None
_lock = threading.Lock()


def get_client() -> ZaloClient:
    global _client
    with _lock:
        if _client is None:
            _client = ZaloClient(
                oauth_url=settings.ZALO_OAUTH_BASE_URL,
                openapi_url=settings.ZALO_OPENAPI_BASE_URL,
                business_url=settings.ZALO_BUSINESS_BASE_URL,
                transport=ZaloTransport(
                    timeout=settings.ZALO_TIMEOUT_SECONDS,
                    connect_timeout=settings.ZALO_CONNECT_TIMEOUT_SECONDS,
                ),
            )
        return _client


def reset_client(**kwargs: object) -> None:
    global _client
    with _lock:
        if _client is not None:
            _client.transport.close()
        _client = None


def _on_setting_changed(*, setting: str, **kwargs: object) -> None:
    if setting.startswith("ZALO_"):
        reset_client()


setting_changed.connect(_on_setting_changed)
