"""Logging pieces the settings' LOGGING refers to."""

import logging


class ClientErrorsOnOneLine(logging.Filter):
    """A 4xx answer is the client's doing (a forbidden page, a bad Host header): log its
    line without the traceback Django attaches, which says nothing about the hub and
    buries real errors. 5xx keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if record.exc_info and isinstance(status, int) and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
