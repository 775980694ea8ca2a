"""The mail backend when no mail server is configured outside development."""

import logging
from collections.abc import Sequence

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

logger = logging.getLogger(__name__)


class LogOnlyEmailBackend(BaseEmailBackend):
    """ZALOHUB_EMAIL_HOST is not set: alerts stay in the app, and the log says in one
    line each what was not mailed (the console backend would print whole messages into
    a production log)."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        for message in email_messages:
            logger.warning(
                "Not mailed, ZALOHUB_EMAIL_HOST is not set: %r to %s",
                message.subject,
                ", ".join(message.recipients()),
            )
        return 0
