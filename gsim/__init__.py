"""gsim: a faithful local simulator of the Google Workspace APIs Sidecar calls.

One HTTP server speaks Gmail v1, Calendar v3, Admin Directory v1, their batch
endpoints, the OAuth token endpoint and the ID-token certs, so the real
google-api-python-client and google-auth talk to it unchanged. See README.md.
"""

from .simulator import Simulator
from .world import Attendee

__all__ = ["Attendee", "Simulator"]
