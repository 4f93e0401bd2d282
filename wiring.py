"""The one wiring point: the Firestore client, the tenant repositories and the Google clients of a process.

Both processes make one `Services` at their entry point and hand it down:
`create_app` (app.py) keeps it in `app.extensions["sidecar"]`, where the
add-on's request context (`addon.context`) takes the verified tenant's
repository and the config; `python -m sync` (sync/__main__.py) gives
`sync.runner.SyncRun` its two factories, `repository` (tenant -> its
`Repository`) and `google_service` (a Google API client acting as a user, by
delegation), and the `Config`. Nothing in `sync/` asks a `Services` for
anything but its entry point. This module imports only `config`, `models` and
`google_clients`, so it sits below everything that uses it, and no import
runs back up to an entry point.

Nothing is connected until first asked for, so importing any module opens no
connection and reads no variable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

import google_clients
from config import Config, ConfigError
from models.leases import Leases
from models.repository import Repository, connect, leader_leases


class Services:
    """Lazily built, shared dependencies for one process."""

    def __init__(self, config: Config | Mapping | None = None,
                 loader: Callable[[], Config] = Config.from_env):
        if isinstance(config, Mapping):
            config = Config.from_mapping(config)
        self._config = config
        self._loader = loader
        self._client = None
        self._service_account: google_clients.ServiceAccount | None = None
        self._lock = threading.RLock()  # `firestore` and `service_account` read `config` while holding it
        # each thread's Google connection (`google_service`); dropped with this object, so a test's
        # Services never reaches a simulator that another test started on a reused port
        self._connections = threading.local()

    @property
    def config(self) -> Config:
        if self._config is None:
            with self._lock:
                if self._config is None:
                    self._config = self._loader()
        return self._config

    @property
    def firestore(self):
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = connect(self.config.google_cloud_project, self.config.firestore_emulator_host)
        return self._client

    def repository(self, tenant: str, deadline: float | None = None) -> Repository:
        """The repository of one tenant: the only way code reaches Firestore.

        A deadline caps each of its Firestore calls, retries included (`Repository`): `deadline`
        when given (sync's), else the configured one (the web process's).
        """
        return Repository(self.firestore, tenant, deadline=deadline or self.config.firestore_deadline_seconds or None)

    def leader_leases(self) -> Leases:
        """The process-wide leader leases (the dispatcher's), beside every tenant's documents."""
        return leader_leases(self.firestore)

    @property
    def service_account(self) -> google_clients.ServiceAccount:
        """The delegation key, parsed once for the process, with its credentials cache."""
        if self._service_account is None:
            with self._lock:
                if self._service_account is None:
                    key_file = self.config.google_application_credentials
                    if not key_file:
                        raise ConfigError("GOOGLE_APPLICATION_CREDENTIALS is required to sync mailboxes")
                    self._service_account = google_clients.ServiceAccount(key_file)
        return self._service_account

    def google_service(self, api: str, version: str, subject: str | None, scopes) -> google_clients.Service:
        """A Google API client acting as `subject` by domain-wide delegation (sync).

        The credentials are the ones the process keeps for that subject and
        scopes, token included; the connection is the calling thread's
        (httplib2 is not thread-safe, so every sync thread has its own, reused
        by the mailboxes it syncs one after another); the Resources are the
        process's (`google_clients.bound_service`). A client is used in the
        thread that asked for it: `sync.api.MailboxApi` gives its other
        threads connections of their own.
        """
        credentials = self.service_account.credentials(subject, scopes)
        connection = getattr(self._connections, "http", None)
        if connection is None:
            connection = self._connections.http = google_clients.new_connection()
        return google_clients.bound_service(api, version, self.config.google_api_root,
                                            google_clients.authorized_http(credentials, connection))

    def close(self) -> None:
        self._connections = threading.local()  # this thread's connection closes once nothing holds it
        if self._client is not None:
            self._client.close()
            self._client = None

