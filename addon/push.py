"""Push endpoints (issue 14 point 5): Calendar channel notifications, and Gmail's if Pub/Sub pushes them.

- `POST /push/calendar`: a Calendar channel notification; its channel id and
  secret token must be the mailbox's current channel's (`sync.push`), else 403.
  It becomes a sync request on the sync topic.
- `POST /push/gmail`: a Pub/Sub push delivery of a Gmail notification, for a
  deployment that pushes rather than pulls; its `Authorization` OIDC token is
  checked by the add-on's own verifier (signature, issuer, expiry, audience =
  this exact URL, email = SIDECAR_PUSH_SERVICE_ACCOUNT), else 401.

Both publish to SIDECAR_SYNC_TOPIC, which the web service must share with the
sync service (app.yaml and sync.yaml). Decided: a web service without it
(distributed mode off) answers every push `503` before reading or writing
anything, and logs an error naming the variable; one whose publish fails or
does not finish within `PUBLISH_TIMEOUT_SECONDS` answers `503` too (the push is
then counted as seen on the mailbox's watch, as `sync.push` records it before
publishing, but no request is claimed). A 503 is what both senders retry:
Calendar retries a channel notification answered 500, 502, 503 or 504 with
exponential backoff, and a Pub/Sub push subscription redelivers anything but a
2xx by its retry policy, for as long as it keeps the message (7 days by
default). So a web service deployed without the topic loses no notification
once it is fixed, and never says 200 for a sync it did not request. It does
not sync in-process instead: the web service holds no domain-wide delegation
key, and a sync takes longer than either sender waits for an answer. (In
single-process mode nothing sets up push watches, so only channels left from
a distributed deployment, until they expire within a week, reach it.)
"""

from __future__ import annotations

import base64
import binascii
import concurrent.futures
import logging

from flask import Blueprint, current_app, jsonify, request
from google.api_core import exceptions

from addon.verify import CertCache, Unauthorized, Verifier
from config import PubSubConfig
from sync.push import GmailNotifications, Refused, calendar_notification, gmail_notification

log = logging.getLogger(__name__)

bp = Blueprint("push", __name__)
CALENDAR_PATH, GMAIL_PATH = "/push/calendar", "/push/gmail"
PUSH_REASON = "push"  # the reason a sync request published here carries
# A push is answered within this, published or 503: a Pub/Sub push subscription's default acknowledgement
# deadline is 10 s (an answer after it counts as a failed delivery anyway), and a web thread is not held
# for the publisher's own retries (minutes) while Pub/Sub is unreachable.
PUBLISH_TIMEOUT_SECONDS = 8.0


class Unavailable(Exception):
    """A notification that cannot be turned into a sync request now: answered 503, which its sender retries."""


def _state() -> dict:
    return current_app.extensions.setdefault("sidecar_push", {})


def pubsub_settings() -> PubSubConfig:
    """The Pub/Sub settings, read once (gunicorn.conf.py has already refused invalid ones at start)."""
    state = _state()
    if "settings" not in state:
        state["settings"] = PubSubConfig.from_env()
    return state["settings"]


def _queue():
    """The app's Pub/Sub publisher of sync requests (built on first use; `_publish` checks the topic is set)."""
    state = _state()
    if "queue" not in state:
        from sync.pubsub import Queue  # the web app imports Pub/Sub only when push reaches it

        services = current_app.extensions["sidecar"]
        state["queue"] = Queue(services.config.google_cloud_project, pubsub_settings())
    return state["queue"]


def _require_distributed() -> None:
    if not pubsub_settings().distributed:
        raise Unavailable("SIDECAR_SYNC_TOPIC is not set on the web service: a push has nowhere to go "
                          "(set it to the sync service's topic, app.yaml)")


def _publish(mailbox: str) -> None:
    """A sync request for the mailbox, once Pub/Sub has it; `Unavailable` when it could not be published."""
    from sync.pubsub import SyncRequest  # as `_queue`: Pub/Sub only when push reaches the web app

    try:
        _queue().publish(SyncRequest(mailbox, PUSH_REASON)).result(timeout=PUBLISH_TIMEOUT_SECONDS)
    except (exceptions.GoogleAPIError, concurrent.futures.TimeoutError) as exc:
        raise Unavailable(f"sync request not published: {type(exc).__name__}") from exc


def _unavailable(exc: Unavailable, path: str):
    log.error("push not accepted path=%s reason=%s", path, exc)
    return jsonify(error="unavailable", reason=str(exc)), 503


def _push_verifier() -> Verifier:
    state = _state()
    if "verifier" not in state:
        config = current_app.extensions["sidecar"].config
        account = pubsub_settings().push_service_account
        if not account:
            raise Unauthorized("no push service account is configured")
        state["verifier"] = Verifier(CertCache(config.google_certs_url), config.public_url, account,
                                     config.oauth_client_id)
    return state["verifier"]


@bp.post(CALENDAR_PATH)
def calendar():
    services = current_app.extensions["sidecar"]
    try:
        _require_distributed()
        queued = calendar_notification(services.repository, request.headers, _publish)
    except Unavailable as exc:
        return _unavailable(exc, CALENDAR_PATH)
    except Refused as exc:
        log.warning("calendar notification refused reason=%s", exc)
        return jsonify(error="refused"), 403
    return jsonify(queued=queued), 200


@bp.post(GMAIL_PATH)
def gmail():
    try:
        _require_distributed()
    except Unavailable as exc:
        return _unavailable(exc, GMAIL_PATH)
    try:
        _push_verifier().system_token(request.headers.get("Authorization"), GMAIL_PATH)
    except Unauthorized as exc:
        log.warning("gmail push refused reason=%s", exc)
        return jsonify(error="unauthorized"), 401
    try:
        data = base64.b64decode((request.get_json(silent=True) or {})["message"]["data"], validate=True)
        mailbox, history_id = gmail_notification(data)
    except (KeyError, TypeError, ValueError, binascii.Error):
        return jsonify(error="not a Gmail notification"), 200  # acked: redelivering it cannot help
    services = current_app.extensions["sidecar"]
    try:
        queued = GmailNotifications(services.repository, _publish).notify(mailbox, history_id)
    except Unavailable as exc:
        return _unavailable(exc, GMAIL_PATH)
    return jsonify(queued=queued), 200
