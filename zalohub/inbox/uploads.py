"""Files an agent attaches: checked against Zalo's limits, then uploaded to Zalo.

Zalo takes jpg/png images up to 1 MB and PDF files up to 5 MB (API.md §2.3); anything
else is refused here, with the reason, before a byte goes to Zalo.
"""

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from zalohub.accounts.models import OfficialAccount
from zalohub.accounts.tokens import TokenUnavailable, call_with_token
from zalohub.events.outbound.oa_message import SendRefused
from zalohub.zalo import ZaloError, call_context, get_client

MB = 1024 * 1024


@dataclass(frozen=True)
class Rule:
    kind: str  # the message kind and Zalo's upload family
    limit: int
    content_type: str
    magic: tuple[bytes, ...]


RULES: dict[str, Rule] = {
    "jpg": Rule("image", 1 * MB, "image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": Rule("image", 1 * MB, "image/jpeg", (b"\xff\xd8\xff",)),
    "png": Rule("image", 1 * MB, "image/png", (b"\x89PNG\r\n\x1a\n",)),
    "pdf": Rule("file", 5 * MB, "application/pdf", (b"%PDF",)),
}


def upload_rule(upload: UploadedFile) -> Rule:
    """The rule the file passes, or SendRefused saying what Zalo accepts."""
    name = upload.name or ""
    rule = RULES.get(PurePath(name).suffix.lower().lstrip("."))
    if rule is None:
        raise SendRefused(
            _("“%(name)s” cannot be sent: Zalo accepts JPG or PNG images and PDF files.")
            % {"name": name}
        )
    size = upload.size or 0
    if size > rule.limit:
        raise SendRefused(
            _("“%(name)s” is %(size)s; Zalo accepts at most %(limit)s for this type.")
            % {"name": name, "size": filesizeformat(size), "limit": filesizeformat(rule.limit)}
        )
    if size == 0:
        raise SendRefused(_("“%(name)s” is empty.") % {"name": name})
    head = upload.read(16)
    upload.seek(0)
    if not head.startswith(rule.magic):
        raise SendRefused(
            _("“%(name)s” is not really a %(ext)s file.")
            % {"name": name, "ext": PurePath(name).suffix.upper().lstrip(".")}
        )
    return rule


def upload_to_zalo(*, oa: OfficialAccount, upload: UploadedFile, rule: Rule) -> dict[str, Any]:
    """Upload to Zalo; the attachment dict ``message_send`` expects (plus name and size)."""
    content = upload.read()
    name = PurePath(upload.name or "file").name
    try:
        with call_context(oa=oa.pk, app=oa.app_id, ref_type="inbox.upload"):
            key = call_with_token(
                oa,
                lambda token: get_client().oa.upload(
                    access_token=token,
                    kind=rule.kind,
                    filename=name,
                    content=content,
                    content_type=rule.content_type,
                ),
            )
    except (ZaloError, TokenUnavailable) as exc:
        raise SendRefused(_("Zalo did not take the file: %s") % exc) from None
    if not key:
        raise SendRefused(_("Zalo did not take the file: no id came back."))
    field = "attachment_id" if rule.kind == "image" else "token"
    return {field: key, "name": name, "size": len(content)}
