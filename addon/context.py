"""What every /addon/ endpoint does before and after its own work.

`addon_endpoint` wraps a view: it verifies the system ID token (from the
header alone, before the body is even parsed), parses the JSON, verifies the
user ID token, parses the event, and hands the view a `Request` scoped to the
verified tenant. A Firestore or Google API fault becomes an error card with a
retry button, and so does a trigger that outruns its time budget; a bad body
is a 400, a bad token a 401 and a body over the size limit a 413, all short
JSON. Anything else a view raises is a bug: the rep gets an error card
without Retry and the log names the exception's type and where it was
raised, never its message (it could quote the input).
Log lines carry the path, rep, tenant and outcome, never a token or the
authorization object.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import dataclasses
import functools
import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from flask import current_app, jsonify, request
from google.api_core.exceptions import GoogleAPIError

from addon import events
from addon.google_apis import ApiUnavailable
from addon.verify import CertCache, CertsUnavailable, Identity, TenantDomains, Unauthorized, Verifier
from cards import errors as error_cards
from cards import responses
from cards.people import Viewer
from models.domain import Settings
from models.repository import Repository

log = logging.getLogger(__name__)

ACTION_PATH = "/addon/action/"
FAULT_MESSAGE = "Sidecar could not reach its data just now. Your work is safe; try again in a moment."
API_FAULT_MESSAGE = "Sidecar could not read this from Google just now. Try again in a moment."
SLOW_MESSAGE = "Sidecar took too long to answer just now. Try again in a moment."
UNEXPECTED_MESSAGE = "Sidecar could not handle this request. The problem is logged for us to fix."
WHERE_FRAMES = 4  # innermost frames named in the log line of an unexpected error
# waiting trigger threads a process keeps: gunicorn.conf.py's threads per worker, so a worker's busiest
# second leaves no thread to start in the next
TRIGGER_THREADS_IDLE_MAX = 16


@dataclasses.dataclass
class Request:
    """One verified add-on request: who asks, what they sent, and their tenant's data."""

    identity: Identity
    event: events.Event
    repo: Repository
    public_url: str
    api_root: str
    _settings: Settings | None = None
    admin_email: str | None = None  # the operator's SIDECAR_ADMIN_EMAIL
    importing: int | None = None  # the rep's own history import, in percent, when a view read their mailbox

    @property
    def is_admin(self) -> bool:
        """Settings.admins, plus SIDECAR_ADMIN_EMAIL always (see addon.admin for why)."""
        return self.rep in self.settings.admins or (self.admin_email is not None and self.rep == self.admin_email)

    @property
    def rep(self) -> str:
        return self.identity.rep

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = self.repo.get_settings()
        return self._settings

    @property
    def viewer(self) -> Viewer:
        return Viewer(rep=self.rep, settings=self.settings, actions=self.public_url + ACTION_PATH,
                      tz=self.event.time_zone, importing=self.importing)


def verifier() -> Verifier:
    """One verifier (and certificate cache) per app, built on first use from the app's config."""
    state = current_app.extensions.setdefault("sidecar_addon", {})
    if "verifier" not in state:
        config = current_app.extensions["sidecar"].config
        config.require_web()
        repository = current_app.extensions["sidecar"].repository
        state["verifier"] = Verifier(CertCache(config.google_certs_url), config.public_url,
                                     config.addon_service_account, config.oauth_client_id,
                                     TenantDomains(lambda tenant: repository(tenant).workspace_domains()))
    return state["verifier"]


def refuse(status: int, message: str):
    return jsonify(error=message), status


def addon_endpoint(kind: str, retry: Callable[[Request], tuple[str, dict]] | None = None,
                   budgeted: bool | None = None):
    """Decorate a view `(Request) -> response dict`; `kind` is "trigger" or "action" (the error envelope).

    `retry(req)` names the action URL and parameters an error card's Retry button runs.
    A trigger runs within the app's `trigger_budget_seconds` (see `within_budget`); so does an
    action that only reads (`budgeted=True`: the Retry that shows a trigger's card again).
    """
    budgeted = kind == "trigger" if budgeted is None else budgeted

    def decorate(view: Callable[[Request], dict[str, Any]]):
        @functools.wraps(view)
        def endpoint(*args, **kwargs):
            started = time.perf_counter()
            path = request.path
            try:
                check = verifier()
                check.system_token(request.headers.get("Authorization"), path)
                body = _json_body()
                if not isinstance(body, dict):
                    log.warning("addon bad request path=%s reason=malformed JSON", path)
                    return refuse(400, "the request body must be a JSON object")
                identity = check.user_token(events.user_id_token(body))
            except Unauthorized as exc:
                log.warning("addon refused path=%s reason=%s", path, exc)
                return refuse(401, "unauthorized")
            except CertsUnavailable as exc:
                log.error("addon certs unavailable path=%s reason=%s", path, exc)
                return refuse(503, "cannot verify the request now")
            except GoogleAPIError as exc:  # the tenant's domains could not be read (addon.verify.TenantDomains)
                log.error("addon tenant domains unavailable path=%s error=%s", path, type(exc).__name__)
                return refuse(503, "cannot verify the request now")
            try:
                event = events.parse(body)
            except events.BadEvent as exc:
                log.warning("addon bad request path=%s rep=%s reason=%s", path, identity.rep, exc)
                return refuse(400, str(exc))
            services = current_app.extensions["sidecar"]
            config = services.config
            req = Request(identity, event, services.repository(identity.tenant), config.public_url,
                          config.google_api_root, admin_email=config.admin_email)
            again = functools.partial(retry or functools.partial(_same_again, path=path), req)
            try:
                if budgeted:
                    budget = config.trigger_budget_seconds - (time.perf_counter() - started)
                    answer = within_budget(budget, functools.partial(view, req, *args, **kwargs),
                                           trigger_threads())
                else:
                    answer = view(req, *args, **kwargs)
            except events.BadEvent as exc:
                log.warning("addon bad request path=%s rep=%s reason=%s", path, identity.rep, exc)
                return refuse(400, str(exc))
            except (GoogleAPIError, ApiUnavailable) as exc:
                message = API_FAULT_MESSAGE if isinstance(exc, ApiUnavailable) else FAULT_MESSAGE
                log.error("addon fault path=%s rep=%s tenant=%s error=%s", path, identity.rep, identity.tenant,
                          type(exc).__name__)
                answer = _fault(kind, message, *again())
            except BudgetSpent:
                log.error("addon slow path=%s rep=%s tenant=%s budget_s=%s", path, identity.rep, identity.tenant,
                          config.trigger_budget_seconds)
                answer = _fault(kind, SLOW_MESSAGE, *again())
            except Exception as exc:  # noqa: BLE001 - the safety net: a card, and a log line with no input in it
                log.error("addon unexpected error path=%s rep=%s tenant=%s error=%s at=%s", path, identity.rep,
                          identity.tenant, type(exc).__name__, _where(exc))
                answer = _fault(kind, UNEXPECTED_MESSAGE, None, None)
            log.info("addon ok path=%s host=%s rep=%s tenant=%s ms=%.0f", path, event.host_app, identity.rep,
                     identity.tenant, (time.perf_counter() - started) * 1000)
            return jsonify(answer)

        return endpoint

    return decorate


def _json_body() -> Any:
    """The parsed body, or None when it is not JSON; nesting deeper than Python's recursion limit is not JSON.

    A body over MAX_CONTENT_LENGTH raises RequestEntityTooLarge here (413, see app.py).
    """
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


class BudgetSpent(Exception):
    """A trigger did not finish within its budget; the rep gets an error card with Retry."""


class TriggerThreads:
    """The threads triggers run on (`within_budget`), each kept for the next trigger once its work is done.

    Starting a thread per trigger cost each request a thread's start and the
    handshake `Thread.start` waits for (about 50 us of CPU and 150 us of
    waiting on a busy 2-core machine, against 12 us and 50 us handing the
    work to a waiting thread). A trigger takes a waiting thread, or starts one
    when none waits, so no trigger ever waits for another, as before: a
    trigger past its budget keeps its thread until its own deadlines end it.
    At most `idle_max` threads wait; one more ends when its work is done.
    Daemon threads, as before: a process exits without waiting for late work.
    """

    def __init__(self, idle_max: int = TRIGGER_THREADS_IDLE_MAX):
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # threads that will take the next task without being started (each put has a taker)
        self._idle_max = idle_max

    @property
    def waiting(self) -> int:
        """Threads waiting for the next trigger."""
        return self._idle

    def run(self, task: Callable[[], None]) -> None:
        with self._lock:
            start = self._idle == 0
            if not start:
                self._idle -= 1
        self._tasks.put(task)
        if start:
            threading.Thread(target=self._serve, name="sidecar-trigger", daemon=True).start()

    def _serve(self) -> None:
        while True:
            self._tasks.get()()
            with self._lock:
                if self._idle >= self._idle_max:
                    return
                self._idle += 1


def trigger_threads() -> TriggerThreads:
    """The app's trigger threads, made on first use."""
    state = current_app.extensions.setdefault("sidecar_addon", {})
    if "trigger_threads" not in state:
        state.setdefault("trigger_threads", TriggerThreads())
    return state["trigger_threads"]


def within_budget(seconds: float, work: Callable[[], dict], threads: TriggerThreads | None = None) -> dict:
    """`work()` on another thread (one of `threads`, else a new one), waited for at most `seconds`
    (BudgetSpent after).

    Google drops an add-on's answer after about 30 s, and the worst trigger
    (the Gmail API fallback with its retry, plus Firestore's deadline) can
    take about as long; answering an error card with Retry inside the budget
    beats a card that never comes. A thread cannot be stopped: work past its
    budget finishes on its own (every Firestore and API call it makes has its
    own deadline) and its answer is dropped. Triggers only read, or record
    what they read (`record_message`, idempotent), so running late is
    harmless; card actions write, and are never cut short (a Retry could
    write twice).
    """
    done: concurrent.futures.Future = concurrent.futures.Future()
    context = contextvars.copy_context()  # Flask's app and request context, for anything that asks

    def run() -> None:
        try:
            done.set_result(context.run(work))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting request thread as is
            done.set_exception(exc)

    if threads is None:
        threading.Thread(target=run, name="sidecar-trigger", daemon=True).start()
    else:
        threads.run(run)
    try:
        return done.result(timeout=max(seconds, 0.0))
    except concurrent.futures.TimeoutError:
        raise BudgetSpent from None


def _where(exc: BaseException) -> str:
    """Where an unexpected exception was raised: file:line of the innermost frames, never its message."""
    frames = traceback.extract_tb(exc.__traceback__)[-WHERE_FRAMES:]
    return " < ".join(f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}" for frame in reversed(frames))


def _same_again(req: Request, path: str) -> tuple[str, dict]:
    """Run the same action again: its parameters, and the rep's typed inputs carried as parameters."""
    parameters = dict(req.event.parameters)
    for name, values in req.event.string_inputs.items():
        if values:
            parameters.setdefault(events.RETRY_INPUT_PREFIX + name, values[0])
    return req.public_url + path, parameters


def _fault(kind: str, message: str, retry_url: str | None, retry_parameters: dict | None) -> dict[str, Any]:
    card = error_cards.error_card(message, retry_url, retry_parameters)
    return responses.trigger(card) if kind == "trigger" else responses.update_card(card, "Something went wrong")
