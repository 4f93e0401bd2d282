"""Hostile inputs for the hardening tests (issue #12): tokens Google's own key signs with crafted headers."""

from __future__ import annotations

import json
import logging

from gsim import Simulator
from gsim.tokens import b64url, decode_unverified


def signed_with_header(google: Simulator, header: dict, claims: dict) -> str:
    """A JWT signed by Google's current key (the signature verifies) with any header and claims."""
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                     + b64url(json.dumps(claims, separators=(",", ":")).encode()))
    return signing_input + "." + b64url(google.id_tokens.current.sign(signing_input.encode("ascii")))


def claims_of(token: str) -> dict:
    """The claims of a token we minted, to re-sign them under another header."""
    return decode_unverified(token)[1]


def tracebacks(records: list[logging.LogRecord]) -> list[str]:
    """Log records that carry a traceback (an exception escaped a handler)."""
    return [r.getMessage() for r in records if r.exc_info or "Traceback" in r.getMessage()]


def snapshot(client) -> dict[str, object]:
    """Every document of the test project and when it was last written: any write, even a no-op, shows."""
    return {doc.reference.path: doc.update_time for collection in client.collections()
            for doc in collection.recursive().stream()}
