"""Log lines for the sync's processes: `key=value` text, or JSON lines that Cloud Logging reads as structured entries.

With `SIDECAR_LOG_FORMAT=json` (the default when the sync is distributed) each
record is one JSON object: `severity` (Cloud Logging's name for the level),
`message`, `time`, `logger`, and the mailbox and tenant as fields of their own
(`mailbox`, `tenant`), taken from the `mailbox=...`/`tenant=...` pairs every
sync log call already writes, the tenant derived from the mailbox when only
that is named. A traceback stays in `message`, where Error Reporting finds it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys

from models.addresses import email_domain

TEXT_FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"
# Python's level names -> Cloud Logging's LogSeverity names
SEVERITY = {"DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARNING", "ERROR": "ERROR", "CRITICAL": "CRITICAL"}
FIELD = re.compile(r"\b(mailbox|tenant)=([^\s,;]+)")


class CloudLoggingFormatter(logging.Formatter):
    """One JSON object a line (see module doc)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{self.formatException(record.exc_info)}"
        entry = {"severity": SEVERITY.get(record.levelname, "DEFAULT"), "message": message,
                 "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(), "logger": record.name}
        fields = dict(FIELD.findall(record.getMessage()))
        if "mailbox" in fields:
            entry["mailbox"] = fields["mailbox"]
            entry["tenant"] = email_domain(fields["mailbox"])
        if "tenant" in fields:
            entry["tenant"] = fields["tenant"]
        return json.dumps(entry, ensure_ascii=False)


def configure(log_format: str, level: int = logging.INFO) -> None:
    """Install the process's one stderr handler in `log_format` ("text" or "json")."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(CloudLoggingFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
