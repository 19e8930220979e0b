"""Structured logging: every log line on stdout is one JSON object."""

import logging
import re

import structlog

# Paths whose last segment is a bearer grant (report export download links).
_BEARER_LINK = re.compile(r"(/attribution/exports/)[^/\s?#'\"]+")


def redact_bearer_links(text: str) -> str:
    return _BEARER_LINK.sub(r"\1[redacted]", text)


def _redact(_logger, _method, event_dict: dict) -> dict:
    """Django logs a refused download's path ("Gone: /attribution/exports/<token>/")."""
    for key, value in event_dict.items():
        if isinstance(value, str) and "/attribution/exports/" in value:
            event_dict[key] = redact_bearer_links(value)
        elif key == "request" and value is not None and not isinstance(value, str):
            event_dict[key] = redact_bearer_links(repr(value))
    return event_dict


_shared = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),  # keep `extra={...}` fields of stdlib logging calls
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    _redact,
]

structlog.configure(
    processors=[*_shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)


def json_formatter() -> logging.Formatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )
