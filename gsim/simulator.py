"""``Simulator``: the Python face of gsim for tests, the demo and benchmarks."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import pathlib
import threading

import quotas

from . import generator, oauth, push, quota, tokens
from .server import Server
from .serving import ThreadingHTTP11Server

log = logging.getLogger(__name__)

DEFAULT_PROJECT = "sidecar-sim"
SHUTDOWN_POLL_SECONDS = 0.05  # socketserver's default 0.5 s makes every stop() (and test) half a second slower


class Simulator:
    """A seeded Workspace behind Google's URLs; start() serves it on a local port."""

    def __init__(
        self,
        seed: int = 1,
        domain: str = "example.com",
        reps: int = 3,
        companies: int = 8,
        messages: int = 200,
        events: int = 40,
        days: int = 365,
        now: dt.datetime | None = None,
        quota_units_per_minute: int | None = None,
        project_id: str = DEFAULT_PROJECT,
        addon_service_account: str | None = None,
        quota_profile: str | quotas.QuotaProfile = quotas.DEFAULT_PROFILE,
        quota_window_seconds: float = quota.QUOTA_WINDOW_SECONDS,
        thread_mix: str = generator.DEFAULT_THREAD_MIX,
    ):
        """``quota_profile`` is what Google enforces (its per-user Gmail budget replaced by
        ``quota_units_per_minute`` when given; 0 turns it off); ``quota_window_seconds`` shortens
        the sliding minute for tests that want pacing without waiting minutes; ``thread_mix``
        is the generator's mix of conversations (see gsim/README.md)."""
        self.spec = generator.Spec(seed, domain, reps, companies, messages, events, days, now, thread_mix)
        self.world = generator.generate(self.spec)
        self.push = self.world.push = push.Push()  # users.watch and events.watch deliveries (gsim.push)
        self.oauth = oauth.OAuthServer(self.world.is_active_user)
        self.service_account = self.oauth.register(f"sidecar-sync@{project_id}.iam.gserviceaccount.com", project_id)
        self.id_tokens = tokens.IdTokenSigner()
        self.addon_service_account = (
            addon_service_account
            or f"service-{tokens.sub_for(project_id)[:12]}@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"
        )
        profile = quotas.profile(quota_profile) if isinstance(quota_profile, str) else quota_profile
        if quota_units_per_minute is not None:
            profile = profile.scaled(gmail_units_per_user_minute=quota_units_per_minute)
        self.quota = quota.Quota(profile, tokens.sub_for(project_id)[:12], window_seconds=quota_window_seconds)
        self.faults = quota.Faults(seed)
        self.stats = quota.Counters()
        self.app = Server(self)
        self.host, self.port = "127.0.0.1", 0
        self._server = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> Simulator:
        """Serve in a background thread: HTTP/1.1 with kept connections, a thread each (gsim.serving)."""
        self._server = ThreadingHTTP11Server(host, port, self.app)
        self.host, self.port = host, self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS}, name="gsim", daemon=True
        )
        self._thread.start()
        log.info("gsim serving url=%s", self.url)
        return self

    def serve_forever(self, host: str = "127.0.0.1", port: int = 0, ready=None) -> None:
        """Serve in the calling thread (the CLI); ``ready(sim)`` runs once the port is bound."""
        self._server = ThreadingHTTP11Server(host, port, self.app)
        self.host, self.port = host, self._server.server_port
        if ready:
            ready(self)
        self._server.serve_forever()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Simulator:
        return self.start() if self._server is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Root URL ending in "/": SIDECAR_GOOGLE_API_ROOT."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}/"

    @property
    def token_uri(self) -> str:
        return self.url + "token"

    @property
    def certs_url(self) -> str:
        """SIDECAR_GOOGLE_CERTS_URL: x509 PEMs by kid, like Google's oauth2/v1/certs."""
        return self.url + "oauth2/v1/certs"

    # -- who is who -----------------------------------------------------------------
    @property
    def reps(self) -> list[str]:
        return list(self.world.reps)

    @property
    def admin(self) -> str:
        return self.world.admin

    @property
    def domain(self) -> str:
        return self.world.domain

    def describe(self) -> dict:
        return {
            "url": self.url,
            "token_uri": self.token_uri,
            "certs_url": self.certs_url,
            "domain": self.world.domain,
            "domains": self.world.all_domains(),
            "customer_id": self.world.customer_id,
            "reps": self.reps,
            "admin": self.admin,
            "service_account": self.service_account.client_email,
            "addon_service_account": self.addon_service_account,
            "mailboxes": {
                rep: {
                    "messages": len(self.world.mailboxes[rep].messages),
                    "historyId": str(self.world.mailboxes[rep].history_id),
                    "events": len(self.world.calendars[rep].event_ids),
                }
                for rep in self.reps
            },
        }

    # -- credentials ------------------------------------------------------------------
    def service_account_info(self) -> dict:
        return self.oauth.key_file(self.service_account, self.token_uri, self.url)

    def write_service_account_key(self, path) -> pathlib.Path:
        """Write a key file (fresh RSA key, token_uri pointing here); mode 0600."""
        path = pathlib.Path(path)
        path.write_text(json.dumps(self.service_account_info(), indent=2))
        os.chmod(path, 0o600)
        return path

    def sign_id_token(
        self, audience: str, email: str | None = None, hd: str | None = None, expires_in: int = 3600, **claims
    ) -> str:
        """A Google-signed-looking ID token; without ``email`` it is the add-on's system token.

        A user token (``email`` a rep, ``hd`` the domain) has ``aud`` = the OAuth
        client id. Negative ``expires_in`` or ``iss``/``iat`` overrides make bad ones.
        """
        return self.id_tokens.sign(audience, email or self.addon_service_account, hd, expires_in, **claims)

    def rotate_signing_key(self) -> str:
        return self.id_tokens.rotate()

    # -- knobs --------------------------------------------------------------------------
    def revoke(self, mailbox: str) -> None:
        """The admin suspends the user: invalid_grant on the next token, 401 on old ones."""
        self.oauth.revoke(mailbox)

    def restore(self, mailbox: str) -> None:
        self.oauth.restore(mailbox)

    def suspend_user(self, email: str, suspended: bool = True) -> None:
        """The admin suspends (or reinstates) a user in the Directory: ``users.list`` shows
        ``suspended``, and the token endpoint refuses them, as Google does."""
        with self.world.lock:
            self.world.users[email.lower()].suspended = suspended

    def delete_user(self, email: str) -> None:
        """The admin deletes a user: gone from ``users.list``; their mailbox can no longer be read."""
        with self.world.lock:
            del self.world.users[email.lower()]

    def add_domain(self, name: str, alias_of: str | None = None) -> None:
        """A secondary domain of the customer, or an alias of one of its domains (``domains.list``)."""
        with self.world.lock:
            self.world.add_domain(name, alias_of)

    def grant_scopes(self, scopes) -> None:
        """Replace the domain-wide delegation scopes the admin granted."""
        self.oauth.grant_scopes(scopes)

    def expire_access_tokens(self) -> None:
        self.oauth.expire_all()

    def expire_history(self, mailbox: str) -> int:
        return self.world.expire_history(mailbox)

    def invalidate_sync_token(self, mailbox: str) -> None:
        self.world.invalidate_sync_tokens(mailbox)

    def set_faults(self, rate: float = 0.0, statuses=(500, 503, 429)) -> None:
        self.faults.set(rate, statuses)

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        self.faults.fail_next(count, status)

    def set_latency(self, ms: int) -> None:
        """Every API call waits this long before it is answered (an injectable per-call latency)."""
        self.faults.latency_ms = ms

    def set_quota(self, units_per_minute: int | None = None, api: str = "gmail", error_status: int | None = None,
                  per_project_minute: int | None = None, per_day: int | None = None) -> None:
        """Budgets of one API: per user a minute, per project a minute, per project a day (Gmail units,
        or requests for calendar/directory; 0 is not enforced). Spending so far is forgotten."""
        if units_per_minute is not None:
            self.quota.set_budget(units_per_minute, api)
        self.quota.set_project_budget(per_project_minute, per_day, api)
        if error_status:
            self.quota.error_status = error_status
        self.quota.reset()

    def counters(self) -> dict:
        return self.stats.snapshot()

    def reset_counters(self) -> None:
        self.stats.reset()

    @property
    def counters_store(self) -> quota.Counters:
        return self._counters

    # -- mutations ------------------------------------------------------------------------
    def add_message(self, mailbox: str, **fields):
        """Deliver a message now (see World.add_message); advances the history id."""
        fields.setdefault("sender", "Pat Buyer <pat.buyer@acme.co.uk>")
        fields.setdefault("to", [mailbox])
        fields.setdefault("subject", "New message")
        return self.world.add_message(mailbox, **fields)

    def delete_message(self, mailbox: str, message_id: str) -> int:
        return self.world.delete_message(mailbox, message_id)

    def add_event(self, organizer: str, **fields):
        return self.world.add_event(organizer, **fields)

    def update_event(self, mailbox: str, event_id: str, **changes):
        return self.world.update_event(mailbox, event_id, **changes)

    def cancel_event(self, mailbox: str, event_id: str, instance_start=None):
        return self.world.cancel_event(mailbox, event_id, instance_start)
