"""API fixtures: the connected Support OA (and a Sales OA no key of the tests reaches),
a key with every capability on the Support OA, and a client that sends it."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tests.inbox.conftest import send_due, user_payload
from tests.zbs.conftest import Relay, make_partner, make_template, review
from zalohub.accounts.models import OfficialAccount
from zalohub.api.keys import key_create
from zalohub.api.models import ApiKey, Capability
from zalohub.events.models import Direction, ZaloEvent
from zalohub.sandbox.world import SON_PHONE, SON_SUPPORT_USER_ID
from zalohub.zbs.models import Template
from zalohub.zbs.services import template_submit

__all__ = ["make_partner", "make_template", "send_due", "user_payload"]
SON = SON_SUPPORT_USER_ID


def sends_stored(**filters: Any) -> int:
    """The sends stored, each as its outbound event (an API send's message is made by a
    worker after its 202, ``zalohub.api.accept``)."""
    return ZaloEvent.objects.filter(direction=Direction.OUTBOUND, **filters).count()


class Api:
    """The test client with a key: ``get``/``post`` answer (status, json, response)."""

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self.client = Client()

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.raw}", **(extra or {})}

    def get(self, path: str, **params: Any) -> tuple[int, Any, Any]:
        r = self.client.get("/api/v1" + path, params, headers=self._headers(None))
        return r.status_code, json.loads(r.content or b"null"), r

    def post(
        self, path: str, body: Any = None, *, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, Any]:
        r = self.client.post(
            "/api/v1" + path,
            json.dumps(body if body is not None else {}),
            content_type="application/json",
            headers=self._headers(headers),
        )
        return r.status_code, json.loads(r.content or b"null"), r


@pytest.fixture
def oa(connected_oa) -> OfficialAccount:
    return connected_oa


@pytest.fixture
def sales(zalo_app) -> OfficialAccount:
    return OfficialAccount.objects.create(app=zalo_app, name="Sales", oa_id="4310500000000009999")


@pytest.fixture
def make_key(oa) -> Callable[..., tuple[ApiKey, Api]]:
    def make(*, oas: list[OfficialAccount] | None = None, caps: Any = None, rate: int = 10_000):
        key, raw = key_create(
            name="ERP",
            oas=[oa] if oas is None else oas,
            capabilities=Capability.values if caps is None else caps,
            rate_limit_per_minute=rate,
        )
        return key, Api(raw)

    return make


@pytest.fixture
def api(make_key) -> Api:
    return make_key()[1]


@pytest.fixture
def relay(sandbox) -> Relay:
    return Relay(sandbox)


@pytest.fixture
def son(oa):
    return make_partner(oa, name="Nguyễn Văn Sơn", phone=SON_PHONE, user_id=SON)


@pytest.fixture
def approved(oa, sandbox, relay) -> Template:
    template = template_submit(template=make_template(oa))
    review(sandbox, template, "approve")
    relay("change_template_status")
    template.refresh_from_db()
    assert template.status == Template.Status.APPROVED
    return template
