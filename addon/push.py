"""Push endpoints (issue 14 point 5): Calendar channel notifications, and Gmail's if Pub/Sub pushes them.

- `POST /push/calendar`: a Calendar channel notification; its channel id and
  secret token must be the mailbox's current channel's (`sync.push`), else 403.
  It becomes a sync request on the sync topic.
- `POST /push/gmail`: a Pub/Sub push delivery of a Gmail notification, for a
  deployment that pushes rather than pulls; its `Authorization` OIDC token is
  checked by the add-on's own verifier (signature, issuer, expiry, audience =
  this exact URL, email = SIDECAR_PUSH_SERVICE_ACCOUNT), else 401.
"""

from __future__ import annotations

import base64
import binascii
import logging

from flask import Blueprint, current_app, jsonify, request

from addon.verify import CertCache, Unauthorized, Verifier
from config import PubSubConfig
from sync.push import GmailNotifications, Refused, calendar_notification, gmail_notification

log = logging.getLogger(__name__)

bp = Blueprint("push", __name__)
CALENDAR_PATH, GMAIL_PATH = "/push/calendar", "/push/gmail"


def _state() -> dict:
    return current_app.extensions.setdefault("sidecar_push", {})


def _queue():
    """The app's Pub/Sub publisher of sync requests (built on first use; SIDECAR_SYNC_TOPIC must be set)."""
    state = _state()
    if "queue" not in state:
        from sync.pubsub import Queue  # the web app imports Pub/Sub only when push reaches it

        services = current_app.extensions["sidecar"]
        state["queue"] = Queue(services.config.google_cloud_project, PubSubConfig.from_env())
    return state["queue"]


def _push_verifier() -> Verifier:
    state = _state()
    if "verifier" not in state:
        config = current_app.extensions["sidecar"].config
        account = PubSubConfig.from_env().push_service_account
        if not account:
            raise Unauthorized("no push service account is configured")
        state["verifier"] = Verifier(CertCache(config.google_certs_url), config.public_url, account,
                                     config.oauth_client_id)
    return state["verifier"]


@bp.post(CALENDAR_PATH)
def calendar():
    services = current_app.extensions["sidecar"]
    try:
        queued = calendar_notification(services.repository, request.headers, _queue().request_sync)
    except Refused as exc:
        log.warning("calendar notification refused reason=%s", exc)
        return jsonify(error="refused"), 403
    return jsonify(queued=queued), 200


@bp.post(GMAIL_PATH)
def gmail():
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
    queued = GmailNotifications(services.repository, _queue().request_sync).notify(mailbox, history_id)
    return jsonify(queued=queued), 200
