"""Where Sidecar's Google API calls go, and the Resources and batches that make them.

Everything goes to ``api_root`` (SIDECAR_GOOGLE_API_ROOT, whose default,
Google's, is in `config`: the simulator in tests and the demo), batch calls included.

Two facts about googleapiclient this module exists to encode once:

* ``client_options.api_endpoint`` replaces the discovery document's
  ``rootUrl + servicePath``. Gmail and Directory have an empty servicePath
  (their method paths start ``gmail/v1/`` and ``admin/directory/v1/``), so
  their endpoint is the root itself; Calendar's servicePath is
  ``calendar/v3/``, so its endpoint is ``root + "calendar/v3/"``.
* ``service.new_batch_http_request()`` ignores ``api_endpoint`` and posts to
  the discovery ``rootUrl`` + ``batchPath``, so batches are built here with the
  real ``BatchHttpRequest`` pointed at ``root + "batch/<api>/<version>"``.
"""

from __future__ import annotations

import google_auth_httplib2
import googleapiclient.discovery
import httplib2
from googleapiclient.http import BatchHttpRequest

# (api, version) -> (path appended to the root for api_endpoint, batch path)
API_LAYOUT = {
    ("gmail", "v1"): ("", "batch/gmail/v1"),
    ("calendar", "v3"): ("calendar/v3/", "batch/calendar/v3"),
    ("admin", "directory_v1"): ("", "batch/admin/directory_v1"),
}
HTTP_TIMEOUT_SECONDS = 60  # httplib2 waits forever by default


def normalise_root(api_root: str) -> str:
    return api_root if api_root.endswith("/") else api_root + "/"


def _layout(api: str, version: str) -> tuple[str, str]:
    try:
        return API_LAYOUT[(api, version)]
    except KeyError:
        raise ValueError(f"unsupported Google API {api} {version}") from None


def build_service(api: str, version: str, credentials, api_root: str, http=None):
    """A googleapiclient Resource from the bundled (static) discovery document.

    ``http`` (an authorised httplib2 object) replaces ``credentials`` when given.
    """
    service_path, _ = _layout(api, version)
    endpoint = normalise_root(api_root) + service_path
    if http is None:
        http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=HTTP_TIMEOUT_SECONDS))
    return googleapiclient.discovery.build(
        api,
        version,
        http=http,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": endpoint},
    )


def twin_http(authorized):
    """A second HTTP connection with the same credentials, for another thread (httplib2 is not thread-safe)."""
    return google_auth_httplib2.AuthorizedHttp(authorized.credentials,
                                               http=httplib2.Http(timeout=HTTP_TIMEOUT_SECONDS))


def batch_uri(api: str, version: str, api_root: str) -> str:
    return normalise_root(api_root) + _layout(api, version)[1]


def new_batch(api: str, api_root: str, callback=None, version: str | None = None) -> BatchHttpRequest:
    """The real BatchHttpRequest, posting to this API's batch path under ``api_root`` (the API's one version
    in `API_LAYOUT` unless ``version`` is given)."""
    version = version or next(known for name, known in API_LAYOUT if name == api)
    return BatchHttpRequest(callback=callback, batch_uri=batch_uri(api, version, api_root))
