"""Telling the Zalo Admins a subscription was disabled: a mail now (as Diagnostics mails
its incidents, to the same people) and a banner on every admin page while it stays
disabled (context.py)."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from zalohub.core.stored_text import shown
from zalohub.webhooks.models import Subscription

logger = logging.getLogger(__name__)


def _recipients() -> list[str]:
    # Diagnostics' list (Zalo Admins with an email, and DIAGNOSTICS_ALERT_EMAILS).
    from zalohub.diagnostics.alerts import alert_recipients

    return alert_recipients()


def subscription_disabled(subscription_id: int) -> None:
    sub = Subscription.objects.filter(pk=subscription_id).first()
    if sub is None or sub.active:
        return
    recipients = _recipients()
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("[zalohub] Webhook subscription %(name)s was disabled") % {"name": sub.name}
        url = settings.PUBLIC_URL + reverse("admin:webhooks_subscription_change", args=[sub.pk])
        body = "\n\n".join(
            [
                _("Deliveries to %(url)s stopped.") % {"url": sub.url},
                shown(sub.disabled_reason, sub.disabled_reason_i18n),
                _("Fix the receiver, then enable the subscription again: %(page)s") % {"page": url},
            ]
        )
    if not recipients:
        logger.warning("Webhook alert not mailed, no admin has an email: %s", subject)
        return
    try:
        send_mail(subject, body, None, recipients, fail_silently=False)
    except Exception:  # a mail server down must not stop deliveries
        logger.exception("Could not mail the webhook alert %r", subject)
