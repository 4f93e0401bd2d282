"""Building Google API clients (Gmail, Calendar, Directory), below both the add-on and sync.

`endpoints`: where the calls go (SIDECAR_GOOGLE_API_ROOT), Resources and batches;
`credentials`: who they act as (a mailbox by delegation, or the rep of an add-on event).
Nothing here knows Firestore, Flask or Sidecar's models. The names below are the package's face.
"""

from google_clients.credentials import (
    CALENDAR_SCOPES,
    DIRECTORY_SCOPES,
    GMAIL_SCOPES,
    SYNC_SCOPES,
    ServiceAccount,
    delegated_credentials,
    user_token_http,
)
from google_clients.endpoints import (
    Service,
    authorized_http,
    bound_service,
    build_service,
    new_batch,
    new_connection,
    twin_http,
)

__all__ = ["CALENDAR_SCOPES", "DIRECTORY_SCOPES", "GMAIL_SCOPES", "SYNC_SCOPES", "Service", "ServiceAccount",
           "authorized_http", "bound_service", "build_service", "delegated_credentials", "new_batch", "new_connection",
           "twin_http", "user_token_http"]
