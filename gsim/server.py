"""The HTTP face of the simulator: Google's URL layout on one host.

``/gmail/v1/...``, ``/calendar/v3/...``, ``/admin/directory/v1/...`` and the
batch endpoints answer like Google's front ends; ``/token`` and
``/oauth2/v1/certs`` play accounts.google.com; ``/_sim/...`` is the control
panel for tests, the demo and a sync daemon running in another process.

Every API call, alone or inside a batch, passes the same gates in Google's
order: route, bearer token, scopes, the caller's right to the mailbox or
calendar, query parameters, quota, injected fault, then the handler.
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.parse
from dataclasses import dataclass, field

from werkzeug.datastructures import MultiDict
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request, Response

from . import admin, batch, calendar_api, directory_api, discovery, errors, gmail_api
from .oauth import TokenError, parse_form

log = logging.getLogger(__name__)

CERTS_MAX_AGE = 19_800  # Google serves its certs with a Cache-Control max-age of several hours
JSON_TYPE = "application/json; charset=UTF-8"
NO_CONTENT = 204
# API name -> (discovery path prefix relative to the root, batch path)
API_PREFIXES = {"gmail": "", "calendar": "calendar/v3/", "directory": ""}
BATCH_PATHS = {"batch/gmail/v1": "gmail", "batch/calendar/v3": "calendar", "batch/admin/directory_v1": "directory"}
HANDLERS = {**gmail_api.HANDLERS, **calendar_api.HANDLERS, **directory_api.HANDLERS}


@dataclass
class Route:
    api: str
    method_id: str
    http_method: str
    pattern: re.Pattern


def _build_routes() -> list[Route]:
    routes = []
    for method_id in HANDLERS:
        api = {"gmail": "gmail", "calendar": "calendar", "directory": "directory"}[method_id.split(".")[0]]
        spec = discovery.method(api, method_id)
        template = API_PREFIXES[api] + spec.get("flatPath", spec["path"])
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        routes.append(Route(api, method_id, spec["httpMethod"], re.compile("^" + regex + "$")))
    return routes


@dataclass
class Call:
    """Everything a handler needs about one authorised API call."""

    world: object
    api: str
    method_id: str
    path: dict[str, str]
    params: discovery.Params
    subject: str | None
    scopes: frozenset[str]
    json: dict | None = None
    mailbox: object = None
    calendar: object = None
    extra: dict = field(default_factory=dict)


class Server:
    """A WSGI application over a :class:`gsim.Simulator`'s state."""

    def __init__(self, sim):
        self.sim = sim
        self.routes = _build_routes()

    # -- WSGI -------------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        self.sim.stats.bump("http_requests")
        path = request.path.lstrip("/")
        try:
            if path.startswith("_sim/"):
                response = admin.handle(self.sim, request, path[len("_sim/") :])
            elif path == "token" and request.method == "POST":
                return self.token(environ, start_response)
            elif path == "oauth2/v1/certs":
                response = self.certs()
            elif path.startswith("robot/v1/metadata/x509/"):
                response = self.robot_certs(urllib.parse.unquote(path.rsplit("/", 1)[1]))
            elif path in BATCH_PATHS or path == "batch":
                self.sim.faults.delay()
                response = self.batch(request, BATCH_PATHS.get(path))
            else:
                self.sim.faults.delay()
                status, headers, body = self.call(request.method, path, request.args, _credentials(environ),
                                                  _body(environ))
                if status != NO_CONTENT:
                    return answer(start_response, status, headers, body)
                response = Response(body, status=status, headers=headers)
        except admin.AdminError as exc:
            response = json_response({"error": str(exc)}, exc.status)
        return response(environ, start_response)

    # -- accounts.google.com ------------------------------------------------------
    def token(self, environ, start_response):
        token_url = self.sim.url + "token"
        try:
            body = self.sim.oauth.exchange(parse_form(_body(environ)), token_url)
        except TokenError as exc:
            self.sim.stats.bump("token_errors")
            log.info("token refused error=%s", exc.error)
            return answer(start_response, exc.status, {"Content-Type": JSON_TYPE}, json.dumps(exc.body()).encode())
        self.sim.stats.bump("tokens_issued")
        headers = {"Content-Type": JSON_TYPE, "Cache-Control": "no-cache, no-store, max-age=0, must-revalidate"}
        return answer(start_response, 200, headers, json.dumps(body).encode())

    def certs(self) -> Response:
        response = json_response(self.sim.id_tokens.certs(), 200)
        response.headers["Cache-Control"] = f"public, max-age={CERTS_MAX_AGE}, must-revalidate, no-transform"
        response.headers["Expires"] = time.strftime(
            "%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + CERTS_MAX_AGE)
        )
        return response

    def robot_certs(self, client_email: str) -> Response:
        account = self.sim.oauth.accounts.get(client_email)
        if account is None:
            return json_response(errors.not_found().body(), 404)
        return json_response({account.key.kid: account.key.certificate_pem()}, 200)

    # -- batch ------------------------------------------------------------------------
    def batch(self, request: Request, api: str | None) -> Response:
        self.sim.stats.bump("batches")
        try:
            parts = batch.parse(request.headers.get("Content-Type", ""), request.get_data())
        except batch.BatchFormatError as exc:
            error = errors.bad_request(f"Failed to parse batch request, error: {exc}. Received batch body: ")
            return json_response(error.body(), 400)
        if api is None:  # the global /batch endpoint: the API of the first part decides
            api = next(
                (
                    self.match(p.method, p.path.lstrip("/"))[0].api
                    for p in parts
                    if self.match(p.method, p.path.lstrip("/"))[0]
                ),
                "gmail",
            )
        limit = batch.BATCH_MAX_PARTS[api]
        if len(parts) > limit:
            message = f"Inner request count exceeds the limit. Received: {len(parts)}, Limit: {limit}"
            return json_response(errors.bad_request(message, reason="badRequest").body(), 400)
        outer_auth = request.headers.get("Authorization")
        answers = []
        for part in parts:
            self.sim.stats.bump("batch_parts")
            headers = dict(part.headers)
            if outer_auth and not any(k.lower() == "authorization" for k in headers):
                headers["Authorization"] = outer_auth
            args = MultiDict(urllib.parse.parse_qsl(part.query, keep_blank_values=True))
            status, out_headers, body = self.call(part.method, part.path.lstrip("/"), args, headers, part.body, api)
            answers.append((part.content_id, status, out_headers, body))
        content_type, body = batch.render(answers)
        return Response(body, status=200, headers={"Content-Type": content_type})

    # -- API calls -------------------------------------------------------------------------
    def match(self, method: str, path: str) -> tuple[Route | None, dict]:
        for route in self.routes:
            found = route.pattern.match(path)
            if found and route.http_method == method:
                return route, {k: urllib.parse.unquote(v) for k, v in found.groupdict().items()}
        return None, {}

    def call(self, method, path, args, headers, body, batch_api: str | None = None):
        """One API call: returns (status, headers, body bytes)."""
        route, path_params = self.match(method, path)
        if route is None or (batch_api and route.api != batch_api):
            return _error_triplet(errors.not_found())
        mailbox_key = "-"
        units = 0
        outcome = None
        try:
            grant = self._authenticate(args, headers)
            mailbox_key = grant.subject or grant.client_email
            call = self._authorise(route, path_params, args, grant, body)
            units = self.sim.quota.units(route.method_id)
            try:
                self.sim.quota.charge(route.api, mailbox_key, units)
            except errors.ApiError:
                units, outcome = 0, "rate_limited"
                raise
            fault = self.sim.faults.draw()
            if fault is not None:
                outcome = "fault"
                raise fault
            result = HANDLERS[route.method_id](call)
        except errors.ApiError as exc:
            if route.api == "calendar":
                exc.for_calendar()
            self.sim.stats.record(route.method_id, mailbox_key, units, exc.code, outcome)
            return _error_triplet(exc)
        if result is None:
            self.sim.stats.record(route.method_id, mailbox_key, units, 204)
            return 204, {"Vary": "Origin, X-Origin, Referer"}, b""
        self.sim.stats.record(route.method_id, mailbox_key, units, 200, resource_id=path_params.get("id"))
        return 200, {"Content-Type": JSON_TYPE, "Vary": "Origin, X-Origin, Referer"}, json.dumps(result).encode()

    def _authenticate(self, args, headers):
        header = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        token = None
        if header and header.lower().startswith("bearer "):
            token = header[7:].strip()
        token = token or args.get("access_token") or args.get("oauth_token")
        if not token:
            raise errors.login_required()
        grant = self.sim.oauth.lookup(token)
        if grant is None:
            raise errors.invalid_credentials()
        return grant

    def _authorise(self, route: Route, path_params: dict, args, grant, body: bytes) -> Call:
        spec = discovery.method(route.api, route.method_id)
        if not set(spec.get("scopes", ())) & grant.scopes:
            raise errors.insufficient_scopes()
        world = self.sim.world
        params = discovery.Params(args, route.api, route.method_id, strict=route.api != "calendar")
        payload = None
        if body:
            try:
                payload = json.loads(body)
            except ValueError:
                raise errors.bad_request("Invalid JSON payload received.", reason="invalid") from None
        call = Call(world, route.api, route.method_id, path_params, params, grant.subject, grant.scopes, payload)
        if route.api == "gmail":
            user_id = path_params["userId"]
            if grant.subject is None:
                raise errors.ApiError(400, "Precondition check failed.", "failedPrecondition")
            if user_id != "me" and user_id.lower() != grant.subject.lower():
                raise errors.ApiError(403, f"Delegation denied for {grant.subject}", "forbidden")
            call.mailbox = world.mailboxes.get(grant.subject.lower())
            if call.mailbox is None:
                raise errors.ApiError(400, "Mail service not enabled", "failedPrecondition")
        elif route.api == "calendar":
            calendar_id = path_params.get("calendarId", "primary")  # channels.stop names no calendar
            owner = (grant.subject or "").lower()
            if calendar_id != "primary" and calendar_id.lower() != owner:
                raise errors.calendar_not_found()
            call.calendar = world.calendars.get(owner)
            if call.calendar is None:
                raise errors.calendar_not_found()
        return call


def _error_triplet(error: errors.ApiError):
    headers = {"Content-Type": JSON_TYPE, "Vary": "Origin, X-Origin, Referer", **error.headers}
    return error.code, headers, json.dumps(error.body()).encode()


def _body(environ) -> bytes:
    """A request's body, as WSGI hands it over (what werkzeug's ``get_data`` returns, without its stream wrappers:
    a twentieth of the simulator's CPU a call)."""
    length = environ.get("CONTENT_LENGTH", "")
    return environ["wsgi.input"].read(int(length)) if length.isdigit() else b""


def _credentials(environ) -> dict[str, str]:
    """The only request header an API call reads (`Server._authenticate`), without werkzeug's header view."""
    value = environ.get("HTTP_AUTHORIZATION")
    return {} if value is None else {"Authorization": value}


def answer(start_response, status: int, headers: dict[str, str], body: bytes) -> list[bytes]:
    """Send a body built whole with its Content-Length, as werkzeug's `Response` would, without building one.

    Werkzeug's Response (a Headers object, a header pass, a closing iterator) was a
    tenth of the simulator's CPU per API call. Not for a 204 (werkzeug drops its
    Content-Length and adds a default Content-Type: those go through `Response`).
    The reason phrase is Google's (``404 Not Found``), not werkzeug's upper-cased one.
    """
    reason = errors.HTTP_REASON_PHRASES.get(status) or HTTP_STATUS_CODES.get(status, "Unknown")
    start_response(f"{status} {reason}", [*headers.items(), ("Content-Length", str(len(body)))])
    return [body]


def json_response(body, status: int) -> Response:
    return Response(json.dumps(body), status=status, content_type=JSON_TYPE)
