"""Logging set-up: readable lines on a terminal, JSON lines for log shippers."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time

from .settings import Settings

QUIET_LOGGERS = ("bm25s", "transformers", "sentence_transformers", "httpx", "onnxruntime", "uvicorn.access")


class JSONFormatter(logging.Formatter):
    """One JSON object per line; the fields passed as `extra={"fields": {...}}` are merged in."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message k=v ...`, one line per record: a request's path or question can't
    start a line of its own (a forged entry), and a value with spaces is quoted."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        line = _escaped(super().formatMessage(record))
        fields = getattr(record, "fields", None)
        if fields:
            line += " " + " ".join(f"{k}={_value(v)}" for k, v in fields.items() if k != "message")
        return line


CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""What a terminal or a log reader may take as the end of a line, or as a command."""


def _escaped(text: str) -> str:
    return CONTROL_RE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _value(value: object) -> str:
    text = str(value)
    if text and not any(c.isspace() or c in "\"=" for c in text):
        return _escaped(text)
    return _escaped(json.dumps(text, ensure_ascii=False))


class CommandFormatter(logging.Formatter):
    """For one-shot commands: `qa: warning: <message>`, like the CLI's own error lines."""

    def format(self, record: logging.LogRecord) -> str:
        return f"qa: {record.levelname.lower()}: {record.getMessage()}"


def configure_logging(settings: Settings, service: bool = True) -> None:
    """Timestamped (or JSON) lines for the server; plain `qa: warning: ...` lines for commands."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JSONFormatter())
    elif service:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    else:
        handler.setFormatter(CommandFormatter())
    level = logging.INFO if service else logging.WARNING
    # On the handler too: bm25s sets its logger to DEBUG when first imported, after this runs.
    handler.setLevel(level)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    # huggingface_hub's logger has a handler of its own and also reaches ours: each retry of a model
    # it can't reach was printed twice, 67 lines before the one-line error
    os.environ.setdefault("HF_HUB_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
