"""Who Sidecar's Google API calls act as: a user of the domain by delegation, or the rep of an add-on event.

Sync acts as each mailbox through the service account's domain-wide
delegation (`ServiceAccount`). The key file's ``token_uri`` is honoured, which
is how tests and the demo reach the simulator's token endpoint. The add-on
acts as the rep with the short-lived tokens Google puts in the event, which
cannot be refreshed (`user_token_http`).

A no-op sync of a mailbox must cost a few milliseconds of CPU, and parsing
the key (its RSA private key) costs about 30: so a process parses it once,
and keeps the delegated credentials of each (subject, scopes) for as long as
it runs. Credentials carry their access token and refresh it when it expires
(or when Google answers 401), so a token is fetched once per hour and
mailbox, not once per sync.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import google.oauth2.credentials
import google_auth_httplib2
import httplib2
from google.oauth2 import service_account

GMAIL_SCOPES = ("https://www.googleapis.com/auth/gmail.readonly",)
CALENDAR_SCOPES = ("https://www.googleapis.com/auth/calendar.readonly",)
# What sync acts as a mailbox with, for Gmail and Calendar alike: one delegated token a mailbox, not one an API.
# Every sync of a mailbox calls both, so each token cost a JWT signed and a token request (a worker meets most
# mailboxes for the first time: bench/scale.py counted 2 tokens a mailbox); the admin grants the same two scopes
# either way. Decided so, where the spec is silent: a tenant that granted only one of them has every mailbox
# marked revoked (`unauthorized_client`) before any call, where the Gmail half used to sync first and the
# Calendar half then marked it revoked all the same.
SYNC_SCOPES = GMAIL_SCOPES + CALENDAR_SCOPES
DIRECTORY_SCOPES = ("https://www.googleapis.com/auth/admin.directory.user.readonly",)


class ServiceAccount:
    """A service-account key with domain-wide delegation: read and parsed once, on first use.

    `credentials(subject, scopes)` hands out one Credentials object per
    (subject, scopes) for the life of this object, token included. Thread-safe:
    the parse and the cache are under one lock, so concurrent mailboxes get the
    same objects whichever asks first. Several threads may then share one
    Credentials (a mailbox's fetch workers already do): should two refresh it
    at once, each gets a valid token and the last one stays, which is harmless.
    One entry per mailbox and scope set: small next to what a sync holds.
    """

    def __init__(self, key_file: str):
        self.key_file = key_file
        self._key: service_account.Credentials | None = None
        self._delegated: dict[tuple[str | None, tuple[str, ...]], service_account.Credentials] = {}
        self._lock = threading.Lock()

    def credentials(self, subject: str | None, scopes: Sequence[str]) -> service_account.Credentials:
        """Credentials acting as ``subject`` (the service account itself when None) with ``scopes``."""
        wanted = (subject, tuple(scopes))
        with self._lock:
            found = self._delegated.get(wanted)
            if found is None:
                if self._key is None:
                    self._key = service_account.Credentials.from_service_account_file(self.key_file)
                found = self._key.with_scopes(list(scopes))
                if subject:
                    found = _inline_boundary_lookup(found.with_subject(subject))
                self._delegated[wanted] = found
            return found


def _inline_boundary_lookup(credentials: service_account.Credentials) -> service_account.Credentials:
    """Delegated credentials that look up their Regional Access Boundary inline, not on a thread of their own.

    google-auth (2.62) looks up a service account's Regional Access Boundary
    after the first token of each Credentials object, by default on a new
    thread given a deep copy of the transport (the httplib2 connection); for
    credentials acting as a user by delegation the lookup finds nothing to ask
    (google-auth: the boundary "does not apply to Workspace User Accounts via
    Domain-wide Delegation") and only sets a cooldown. Sync makes such
    credentials for every mailbox, so that thread and copy were a share of a
    no-op sync's CPU (py-spy, bench/scale.py's worker). The blocking mode is
    google-auth's own switch (the gcloud CLI sets it; google-auth keeps its
    contract backward compatible): the same lookup, in the calling thread.
    Credentials of a google-auth without it are returned as they are.
    """
    inline = getattr(credentials, "_set_blocking_regional_access_boundary_lookup", None)
    return inline() if inline is not None else credentials


def delegated_credentials(key_file: str, subject: str | None, scopes: Sequence[str]) -> service_account.Credentials:
    """One-off credentials acting as ``subject`` (the demo and tests); a process that syncs keeps a ServiceAccount."""
    return ServiceAccount(key_file).credentials(subject, scopes)


def user_token_http(oauth_token: str, timeout: float) -> google_auth_httplib2.AuthorizedHttp:
    """An HTTP connection authorised by an add-on event's token.

    The event's token cannot be refreshed: a 401 is an answer, not a cue to refresh.
    """
    credentials = google.oauth2.credentials.Credentials(token=oauth_token)
    return google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=timeout),
                                               refresh_status_codes=())
