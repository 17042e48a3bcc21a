"""One format for every line a server writes on stdout: its own (``perseus.*``), granian's,
and the access log (``perseus.server.access_log``), as ``PERSEUS_LOG_FORMAT`` says.

    text  2026-12-02T03:10:00.123Z INFO perseus.server 4242 perseus: serving http://...
    json  {"time":"2026-12-02T03:10:00.123Z","level":"info","logger":"perseus.server",
           "worker":4242,"message":"perseus: serving http://..."}

A JSON line never holds a raw newline: a traceback is the ``traceback`` field. The
fields are listed in the README ("Production"); ``worker`` is the process id.
"""

from __future__ import annotations

import logging
import logging.config
import time
from typing import Any

import orjson

JSON = "json"
# The loggers configured: perseus's own, and granian's (its Rust side logs as `_granian`).
LOGGERS = ("perseus", "_granian", "granian.access")


def utc_time(seconds: float) -> str:
    """``seconds`` since the epoch as ISO 8601 in UTC with milliseconds: ``2026-12-02T03:10:00.123Z``."""
    return utc_time_ms(int(seconds * 1000))


def utc_time_ms(milliseconds: int) -> str:
    """``utc_time`` of a whole number of milliseconds since the epoch."""
    whole, fraction = divmod(milliseconds, 1000)
    return f"{utc_second(whole)}.{fraction:03d}Z"


def utc_second(seconds: int) -> str:
    """The whole second ``seconds`` since the epoch, in UTC: ``2026-12-02T03:10:00``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


class TextFormatter(logging.Formatter):
    """``time LEVEL logger worker message``, then the traceback on the lines below, if any."""

    def format(self, record: logging.LogRecord) -> str:
        line = (f"{utc_time(record.created)} {record.levelname} {record.name} {record.process}"
                f" {record.getMessage()}")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JSONFormatter(logging.Formatter):
    """One JSON object per record, with stable field names."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {"time": utc_time(record.created), "level": record.levelname.lower(),
                                  "logger": record.name, "worker": record.process,
                                  "message": record.getMessage()}
        if record.exc_info:
            fields["traceback"] = self.formatException(record.exc_info)
        return orjson.dumps(fields).decode()


def logging_config(log_format: str, quiet: bool = False) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for ``log_format``: the loggers of ``LOGGERS`` on
    stdout, at INFO. Also what granian is given (``log_dictconfig``), so its lines and its
    workers' follow it. ``quiet`` (``serve --watch``'s servers, replaced on every build):
    no start-up and shutdown lines, only warnings and errors of the server itself."""
    formatter = JSONFormatter if log_format == JSON else TextFormatter
    levels = {name: "INFO" for name in LOGGERS}
    if quiet:
        levels.update({"_granian": "WARNING", "perseus.server": "WARNING"})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"perseus": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "perseus",
                                "stream": "ext://sys.stdout"}},
        "loggers": {name: {"handlers": ["stdout"], "level": level, "propagate": False}
                    for name, level in levels.items()},
    }


def configure_logging(log_format: str, quiet: bool = False) -> None:
    """Send this process's log lines to stdout in ``log_format`` (``quiet``: see ``logging_config``)."""
    logging.config.dictConfig(logging_config(log_format, quiet))
