"""ZBS fixtures: the connected Support OA, partners, templates through the sandbox
reviewer, and a relay carrying the sandbox's signed webhooks into the hub."""

from typing import Any

import pytest
from django.test import Client

from zalohub.events.processing.queue import drain
from zalohub.partners.models import LinkMethod, Partner, PartnerPhone, ZaloPartnerLink
from zalohub.sandbox.world import SON_PHONE, SON_SUPPORT_USER_ID
from zalohub.zbs.models import Template
from zalohub.zbs.services import template_submit

BODY = "Đơn hàng <order_code> của <customer_name> đã được xác nhận."
PARAMS = [
    {"name": "order_code", "type": 4, "max_length": 10, "sample": "DH001"},
    {"name": "customer_name", "type": 1, "max_length": 30, "sample": "Sơn"},
]
VALUES = {"order_code": "DH8821", "customer_name": "Anh Sơn"}


class Relay:
    """Zalo's webhooks, as the sandbox signed them, posted to the hub and processed."""

    def __init__(self, sandbox) -> None:
        self.sandbox = sandbox
        self.seen: set[int] = set()
        self.client = Client()

    def __call__(self, event_name: str | None = None) -> list[Any]:
        assert self.sandbox.webhooks.wait_idle(5)
        answers = []
        for delivery in self.sandbox.webhooks.deliveries(event_name=event_name):
            if delivery.id in self.seen:
                continue
            self.seen.add(delivery.id)
            extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in delivery.headers.items()}
            extra.pop("HTTP_CONTENT_TYPE", None)
            answers.append(
                self.client.post(
                    f"/zalo/webhook/{delivery.app_id}/",
                    data=delivery.body,
                    content_type="application/json",
                    **extra,
                )
            )
        drain()
        return answers


@pytest.fixture
def relay(sandbox) -> Relay:
    return Relay(sandbox)


@pytest.fixture
def oa(connected_oa):
    return connected_oa


def make_partner(oa, *, name: str, phone: str = "", user_id: str = "") -> Partner:
    partner = Partner.objects.create(name=name, is_shadow=False)
    if phone:
        PartnerPhone.objects.create(partner=partner, number=phone, source="manual", verified=True)
    if user_id:
        ZaloPartnerLink.objects.create(
            partner=partner,
            oa=oa,
            app=oa.app,
            zalo_user_id=user_id,
            is_shadow=False,
            link_method=LinkMethod.MANUAL,
        )
    return partner


@pytest.fixture
def son(oa) -> Partner:
    """Mr. Son: a Zalo link on the Support OA and a verified phone."""
    return make_partner(oa, name="Nguyễn Văn Sơn", phone=SON_PHONE, user_id=SON_SUPPORT_USER_ID)


def make_template(oa, **changes: Any) -> Template:
    fields = {
        "name": "Xác nhận đơn hàng",
        "body": BODY,
        "params": [dict(p) for p in PARAMS],
        "template_type": Template.Type.CUSTOM,
        "tag": Template.Tag.TRANSACTION,
        **changes,
    }
    return Template.objects.create(oa=oa, **fields)


def review(sandbox, template: Template, decision: str, reason: str = "") -> None:
    from zalohub.sandbox import reviewer

    reviewer.review(
        sandbox, template_id=template.zalo_template_id, decision=decision, reason=reason
    )


@pytest.fixture
def approved(oa, sandbox, relay) -> Template:
    """A template submitted through the hub and approved by the sandbox's reviewer."""
    template = template_submit(template=make_template(oa))
    review(sandbox, template, "approve")
    relay("change_template_status")
    template.refresh_from_db()
    assert template.status == Template.Status.APPROVED
    return template
