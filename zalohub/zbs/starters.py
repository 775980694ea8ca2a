"""Starter templates an admin copies into a Draft, adjusts and submits.

Written to pass the lint: parameters for every variable part, no links or phone
numbers in the content (a link or a hotline goes in a button).
"""

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _

from zalohub.accounts.models import OfficialAccount
from zalohub.zbs.models import Template


@dataclass(frozen=True)
class Starter:
    key: str
    title: Any
    name: str
    body: str
    params: list[dict[str, Any]]
    template_type: int = Template.Type.CUSTOM
    tag: int = Template.Tag.TRANSACTION
    buttons: list[dict[str, Any]] = field(default_factory=list)


def _p(name: str, kind: int, sample: str) -> dict[str, Any]:
    return {"name": name, "type": kind, "sample": sample}


STARTERS = [
    Starter(
        "order_confirmation",
        _("Order confirmation"),
        "Xác nhận đơn hàng",
        "Chào <customer_name>, đơn hàng <order_code> trị giá <amount> VNĐ đã được xác nhận "
        "và sẽ giao trong <days> ngày.",
        [
            _p("customer_name", 1, "Nguyễn Văn Sơn"),
            _p("order_code", 4, "DH88213"),
            _p("amount", 14, "1.250.000"),
            _p("days", 10, "3"),
        ],
    ),
    Starter(
        "payment_request",
        _("Payment request"),
        "Yêu cầu thanh toán đơn hàng",
        "Chào <customer_name>, vui lòng thanh toán <amount> VNĐ cho đơn <order_code> "
        "trước <due_date>. Nội dung chuyển khoản: <transfer_note>.",
        [
            _p("customer_name", 1, "Nguyễn Văn Sơn"),
            _p("amount", 14, "1.250.000"),
            _p("order_code", 4, "DH88213"),
            _p("due_date", 11, "30/11/2026"),
            _p("transfer_note", 15, "DH88213 Son"),
        ],
        template_type=Template.Type.PAYMENT,
    ),
    Starter(
        "delivery_update",
        _("Delivery update"),
        "Cập nhật giao hàng",
        "Đơn hàng <order_code> của <customer_name> đang ở trạng thái <status>, dự kiến "
        "giao lúc <eta>.",
        [
            _p("order_code", 4, "DH88213"),
            _p("customer_name", 1, "Nguyễn Văn Sơn"),
            _p("status", 6, "Đang giao"),
            _p("eta", 11, "14:00 25/11"),
        ],
    ),
    Starter(
        "appointment_reminder",
        _("Appointment reminder"),
        "Nhắc lịch hẹn",
        "Chào <customer_name>, nhắc anh/chị lịch hẹn lúc <time> tại <address>. "
        "Mã lịch hẹn: <booking_code>.",
        [
            _p("customer_name", 1, "Trần Thị Mai"),
            _p("time", 11, "09:30 26/11"),
            _p("address", 3, "45 Bạch Đằng, Đà Nẵng"),
            _p("booking_code", 4, "LH2291"),
        ],
        tag=Template.Tag.CUSTOMER_CARE,
    ),
    Starter(
        "support_ticket_update",
        _("Support ticket update"),
        "Cập nhật yêu cầu hỗ trợ",
        "Yêu cầu hỗ trợ <ticket_code> của <customer_name> đã chuyển sang trạng thái "
        "<status>. Cảm ơn anh/chị đã kiên nhẫn.",
        [
            _p("ticket_code", 4, "HT4410"),
            _p("customer_name", 1, "Lê Hoàng Nam"),
            _p("status", 6, "Đã xử lý"),
        ],
        tag=Template.Tag.CUSTOMER_CARE,
    ),
    Starter(
        "otp",
        _("One-time password (OTP)"),
        "Mã xác thực đăng nhập",
        "Mã xác thực của bạn là <otp>. Mã có hiệu lực trong 5 phút, không chia sẻ mã này.",
        [_p("otp", 12, "482913")],
        template_type=Template.Type.OTP,
    ),
]
BY_KEY = {s.key: s for s in STARTERS}


def template_from_starter(*, oa: OfficialAccount, key: str) -> Template:
    """A new Draft on ``oa`` copied from the starter ``key``."""
    starter = BY_KEY[key]
    return Template.objects.create(
        oa=oa,
        name=starter.name,
        body=starter.body,
        params=[dict(p) for p in starter.params],
        buttons=[dict(b) for b in starter.buttons],
        template_type=starter.template_type,
        tag=starter.tag,
        starter=starter.key,
    )
