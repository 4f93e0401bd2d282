"""Google's batch wire format: multipart/mixed of application/http parts, both ways.

Requests: each part is ``Content-Type: application/http`` with a
``Content-ID``, holding a whole HTTP request (request line, headers, body).
Responses mirror it: one part per request, in order, ``Content-ID:
<response-{request Content-ID}>``, holding an HTTP response. googleapiclient
matches parts by that Content-ID, so the echo must be exact.
"""

from __future__ import annotations

import email.parser
import email.policy
import secrets
import urllib.parse
from dataclasses import dataclass, field

from .errors import HTTP_REASON_PHRASES

# Google: "You're limited to 100 calls in a single batch request" (Gmail);
# Calendar and Directory document 1,000.
BATCH_MAX_PARTS = {"gmail": 100, "calendar": 1000, "directory": 1000}
CRLF = "\r\n"


class BatchFormatError(ValueError):
    """The body is not a multipart/mixed batch Google would accept."""


@dataclass
class Part:
    content_id: str | None
    method: str
    path: str
    query: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def parse(content_type: str, body: bytes) -> list[Part]:
    if not content_type.lower().startswith("multipart/mixed") or "boundary" not in content_type.lower():
        raise BatchFormatError("Content-Type must be multipart/mixed with a boundary")
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise BatchFormatError("not a multipart body")
    parts = []
    for item in message.get_payload():
        payload = item.get_payload(decode=False)
        if isinstance(payload, list):
            raise BatchFormatError("nested multipart is not supported")
        parts.append(_parse_http(item.get("Content-ID"), payload))
    return parts


def _parse_http(content_id: str | None, text: str) -> Part:
    text = text.lstrip("\r\n")
    request_line, _, rest = text.partition("\n")
    try:
        method, target, _version = request_line.strip().split(" ", 2)
    except ValueError:
        raise BatchFormatError(f"bad request line: {request_line!r}") from None
    inner = email.parser.Parser(policy=email.policy.compat32).parsestr(rest)
    headers = {key: value for key, value in inner.items()}
    payload = inner.get_payload()
    body = payload.encode("utf-8") if isinstance(payload, str) else b""
    split = urllib.parse.urlsplit(target)
    return Part(content_id, method.upper(), split.path, split.query, headers, body.strip(b"\r\n"))


def render(responses: list[tuple[str | None, int, dict[str, str], bytes]]) -> tuple[str, bytes]:
    """(Content-Type, body) of a batch response from (content id, status, headers, body)."""
    boundary = "batch_" + secrets.token_urlsafe(16).replace("-", "_")
    chunks = []
    for content_id, status, headers, body in responses:
        lines = [f"--{boundary}", "Content-Type: application/http"]
        if content_id:
            inner = content_id.strip()
            inner = inner[1:-1] if inner.startswith("<") and inner.endswith(">") else inner
            lines.append(f"Content-ID: <response-{inner}>")
        lines += ["", f"HTTP/1.1 {status} {HTTP_REASON_PHRASES.get(status, 'Unknown')}"]
        lines += [f"{key}: {value}" for key, value in headers.items()]
        lines += ["", ""]
        chunks.append(CRLF.join(lines).encode("utf-8") + body + CRLF.encode())
    chunks.append(f"--{boundary}--{CRLF}".encode())
    return f"multipart/mixed; boundary={boundary}", b"".join(chunks)
