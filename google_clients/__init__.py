"""Building Google API clients (Gmail, Calendar, Directory), below both the add-on and sync.

`endpoints`: where the calls go (SIDECAR_GOOGLE_API_ROOT), Resources and batches;
`credentials`: who they act as (a mailbox by delegation, or the rep of an add-on event).
Nothing here knows Firestore, Flask or Sidecar's models.
"""

from google_clients.credentials import (
    CALENDAR_SCOPES,
    DIRECTORY_SCOPES,
    GMAIL_SCOPES,
    delegated_credentials,
    user_token_http,
)
from google_clients.endpoints import (
    API_LAYOUT,
    GOOGLE_API_ROOT,
    HTTP_TIMEOUT_SECONDS,
    batch_uri,
    build_service,
    new_batch,
    normalise_root,
    twin_http,
)

__all__ = ["API_LAYOUT", "CALENDAR_SCOPES", "DIRECTORY_SCOPES", "GMAIL_SCOPES", "GOOGLE_API_ROOT",
           "HTTP_TIMEOUT_SECONDS", "batch_uri", "build_service", "delegated_credentials", "new_batch",
           "normalise_root", "twin_http", "user_token_http"]
