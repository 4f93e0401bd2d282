"""``/_sim/...``: drive the simulator from another process (JSON in, JSON out).

Every route calls the same :class:`gsim.Simulator` method a test would call
in-process, so the demo and a sync daemon in a subprocess see identical
behaviour. See gsim/README.md for the list.
"""

from __future__ import annotations

import datetime as dt
import json

from werkzeug.wrappers import Request, Response

from .world import Attendee


class AdminError(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _when(value):
    """ISO 8601 in JSON: a date (all-day) or a datetime (UTC when no offset)."""
    if value is None:
        return None
    if len(value) == 10:
        return dt.date.fromisoformat(value)
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _attendees(values):
    return [
        Attendee(v["email"], v.get("displayName"), v.get("responseStatus", "needsAction")) if isinstance(v, dict) else v
        for v in values
    ]


def _ok(body=None, status: int = 200) -> Response:
    return Response(
        json.dumps(body if body is not None else {"ok": True}), status=status, content_type="application/json"
    )


def handle(sim, request: Request, path: str) -> Response:
    body = {}
    if request.method in ("POST", "PATCH", "PUT"):
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            raise AdminError("body must be JSON") from None
    parts = path.strip("/").split("/")
    route = (request.method, parts[0])
    try:
        return _dispatch(sim, route, parts, body, request)
    except KeyError as exc:
        raise AdminError(f"unknown {exc}", 404) from None
    except (TypeError, ValueError) as exc:
        raise AdminError(str(exc)) from None


def _dispatch(sim, route, parts, body, request) -> Response:
    method, name = route
    if route == ("GET", "health"):
        return _ok({"ok": True, "url": sim.url})
    if route == ("GET", "world"):
        return _ok(sim.describe())
    if route == ("GET", "counters"):
        return _ok(sim.counters())
    if route == ("POST", "counters") and parts[1:] == ["reset"]:
        sim.reset_counters()
        return _ok()
    if route == ("GET", "service-account-key"):
        return _ok(sim.service_account_info())
    if route == ("POST", "id-token"):
        return _ok({"token": sim.sign_id_token(**body)})
    if route == ("POST", "rotate-signing-key"):
        return _ok({"kid": sim.rotate_signing_key()})
    if route == ("POST", "revoke"):
        sim.revoke(body["mailbox"])
        return _ok()
    if route == ("GET", "push"):
        return _ok({"notifications": dict(sim.push.notifications), "posts": dict(sim.push.posts)})
    if route == ("POST", "restore"):
        sim.restore(body["mailbox"])
        return _ok()
    if route == ("POST", "suspend-user"):
        sim.suspend_user(body["email"], body.get("suspended", True))
        return _ok()
    if route == ("POST", "delete-user"):
        sim.delete_user(body["email"])
        return _ok()
    if route == ("POST", "domains"):
        sim.add_domain(body["name"], body.get("alias_of"))
        return _ok()
    if route == ("POST", "scopes"):
        sim.grant_scopes(body["scopes"])
        return _ok()
    if route == ("POST", "expire-history"):
        return _ok({"historyId": str(sim.expire_history(body["mailbox"]))})
    if route == ("POST", "invalidate-sync-token"):
        sim.invalidate_sync_token(body["mailbox"])
        return _ok()
    if route == ("POST", "expire-access-tokens"):
        sim.expire_access_tokens()
        return _ok()
    if route == ("POST", "faults"):
        sim.set_faults(rate=body.get("rate", 0.0), statuses=tuple(body.get("statuses", (500, 503, 429))))
        if "latency_ms" in body:
            sim.set_latency(body["latency_ms"])
        if body.get("fail_next"):
            sim.fail_next(body["fail_next"], body.get("status", 503))
        return _ok()
    if route == ("POST", "latency"):
        sim.set_latency(body["ms"])
        return _ok()
    if route == ("POST", "quota"):
        sim.set_quota(body.get("units_per_minute"), api=body.get("api", "gmail"), error_status=body.get("error_status"),
                      per_project_minute=body.get("per_project_minute"), per_day=body.get("per_day"))
        return _ok()
    if route == ("POST", "messages"):
        fields = dict(body)
        mailbox = fields.pop("mailbox")
        if "date" in fields:
            fields["date"] = _when(fields["date"])
        message = sim.add_message(mailbox, **fields)
        return _ok({"id": message.id, "threadId": message.thread_id, "historyId": str(message.history_id)})
    if route == ("DELETE", "messages") and len(parts) == 3:
        return _ok({"historyId": str(sim.delete_message(parts[1], parts[2]))})
    if name == "events":
        return _events(sim, method, parts, body)
    raise AdminError(f"no admin route {method} /_sim/{'/'.join(parts)}", 404)


def _events(sim, method, parts, body) -> Response:
    fields = dict(body)
    for key in ("start", "end", "instance_start"):
        if key in fields:
            fields[key] = _when(fields[key])
    if "attendees" in fields:
        fields["attendees"] = _attendees(fields["attendees"])
    if method == "POST" and len(parts) == 1:
        event = sim.add_event(fields.pop("organizer"), **fields)
        return _ok({"id": event.id, "iCalUID": event.ical_uid})
    if method == "PATCH" and len(parts) == 3:
        event = sim.update_event(parts[1], parts[2], **fields)
        return _ok({"id": event.id, "sequence": event.sequence})
    if method == "POST" and len(parts) == 4 and parts[3] == "cancel":
        event = sim.cancel_event(parts[1], parts[2], fields.get("instance_start"))
        return _ok({"id": event.id, "status": event.status})
    raise AdminError(f"no admin route {method} /_sim/{'/'.join(parts)}", 404)
