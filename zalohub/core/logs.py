"""Logging pieces the settings' LOGGING refers to."""

import json
import logging
from datetime import UTC, datetime


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


# A LogRecord's own attributes: everything else on a record came from ``extra``.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's message again, with terminal colour codes
}


class JsonLines(logging.Formatter):
    """One JSON object per line (``ZALOHUB_LOG_FORMAT=json``): time, level, logger,
    message, the bound request id, whatever the call passed in ``extra`` (a request's
    method, path and status, an event's id and outcome, a job's name and duration) and
    the traceback, if any, as one string."""

    def format(self, record: logging.LogRecord) -> str:
        from zalohub.core import requestid

        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", "") or requestid.current()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            # Django's request loggers attach the request itself: its repr holds the
            # query string (an OAuth code...); the request's own line says what is safe.
            if key not in _RECORD_FIELDS and key not in entry and key != "request":
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)
