"""The one wiring point: builds the repository, Google clients and scheduler for both processes.

`create_app` and `python -m sync` ask a `Services` for what they need; nothing is
connected until first asked for, so importing any module opens no connection and
reads no variable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from config import Config, ConfigError
from models.repository import Repository, connect


class Services:
    """Lazily built, shared dependencies for one process."""

    def __init__(self, config: Config | Mapping | None = None,
                 loader: Callable[[], Config] = Config.from_env):
        if isinstance(config, Mapping):
            config = Config.from_mapping(config)
        self._config = config
        self._loader = loader
        self._client = None
        self._lock = threading.Lock()

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

    def repository(self, tenant: str) -> Repository:
        """The repository of one tenant: the only way code reaches Firestore.

        The web process's deadline caps each of its Firestore calls, retries included (`Repository`).
        """
        return Repository(self.firestore, tenant, deadline=self.config.firestore_deadline_seconds or None)

    def google_service(self, api: str, version: str, subject: str | None, scopes):
        """A Google API client acting as `subject` by domain-wide delegation (sync).

        Each call builds fresh credentials and a fresh HTTP connection: httplib2
        is not thread-safe, so every mailbox's worker gets its own.
        """
        from sync import google_clients  # sync's own module; imported when first asked for

        key_file = self.config.google_application_credentials
        if not key_file:
            raise ConfigError("GOOGLE_APPLICATION_CREDENTIALS is required to sync mailboxes")
        credentials = google_clients.delegated_credentials(key_file, subject, scopes)
        return google_clients.build_service(api, version, credentials, self.config.google_api_root)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

