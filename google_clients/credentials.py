"""Who Sidecar's Google API calls act as: a user of the domain by delegation, or the rep of an add-on event.

Sync acts as each mailbox through the service account's domain-wide
delegation. The key file's ``token_uri`` is honoured, which is how tests and
the demo reach the simulator's token endpoint. The add-on acts as the rep with
the short-lived tokens Google puts in the event, which cannot be refreshed.
"""

from __future__ import annotations

import google.oauth2.credentials
import google_auth_httplib2
import httplib2
from google.oauth2 import service_account

GMAIL_SCOPES = ("https://www.googleapis.com/auth/gmail.readonly",)
CALENDAR_SCOPES = ("https://www.googleapis.com/auth/calendar.readonly",)
DIRECTORY_SCOPES = ("https://www.googleapis.com/auth/admin.directory.user.readonly",)


def delegated_credentials(key_file: str, subject: str | None, scopes) -> service_account.Credentials:
    """Service-account credentials acting as ``subject`` (domain-wide delegation)."""
    credentials = service_account.Credentials.from_service_account_file(key_file, scopes=list(scopes))
    return credentials.with_subject(subject) if subject else credentials


def user_token_http(oauth_token: str, timeout: float) -> google_auth_httplib2.AuthorizedHttp:
    """An HTTP connection authorised by an add-on event's token.

    The event's token cannot be refreshed: a 401 is an answer, not a cue to refresh.
    """
    credentials = google.oauth2.credentials.Credentials(token=oauth_token)
    return google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=timeout),
                                               refresh_status_codes=())
