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

Discovery documents are the ones bundled with the library, parsed once per
process (`_document`): parsing Gmail's costs more than a no-op sync may spend.
A parsed document is shared by every Resource built from it, which is safe
once it is settled: googleapiclient fixes up each method's description in
place the first time it builds that method (the same fix-up every time), so
`_document` builds every method once, under its lock, before any caller sees
the document, and after that nothing writes to it.
"""

from __future__ import annotations

import json
import threading

import google_auth_httplib2
import googleapiclient.discovery
import httplib2
from googleapiclient import discovery_cache
from googleapiclient.http import BatchHttpRequest

# (api, version) -> (path appended to the root for api_endpoint, batch path)
API_LAYOUT = {
    ("gmail", "v1"): ("", "batch/gmail/v1"),
    ("calendar", "v3"): ("calendar/v3/", "batch/calendar/v3"),
    ("admin", "directory_v1"): ("", "batch/admin/directory_v1"),
}
HTTP_TIMEOUT_SECONDS = 60  # httplib2 waits forever by default
SETTLING_ENDPOINT = "https://settling.invalid/"  # the Resource that settles a document never sends a request

_documents: dict[tuple[str, str], dict] = {}
_documents_lock = threading.Lock()


def normalise_root(api_root: str) -> str:
    return api_root if api_root.endswith("/") else api_root + "/"


def _layout(api: str, version: str) -> tuple[str, str]:
    try:
        return API_LAYOUT[(api, version)]
    except KeyError:
        raise ValueError(f"unsupported Google API {api} {version}") from None


def _document(api: str, version: str) -> dict:
    """The bundled discovery document of an API, parsed and settled once (module doc)."""
    with _documents_lock:
        document = _documents.get((api, version))
        if document is None:
            document = json.loads(discovery_cache.get_static_doc(api, version))
            _settle(googleapiclient.discovery.build_from_document(
                document, http=httplib2.Http(), client_options={"api_endpoint": SETTLING_ENDPOINT}), document)
            _documents[(api, version)] = document
        return document


def _settle(resource, description: dict) -> None:
    """Build every method of every nested resource once (each build fixes up its own description)."""
    for name, nested in (description.get("resources") or {}).items():
        _settle(getattr(resource, name)(), nested)


def build_service(api: str, version: str, credentials, api_root: str, http=None):
    """A googleapiclient Resource from the bundled discovery document, sending to ``api_root``.

    ``http`` (an authorised httplib2 object) replaces ``credentials`` when given;
    otherwise each Resource gets its own connection (httplib2 is not thread-safe).
    """
    service_path, _ = _layout(api, version)
    endpoint = normalise_root(api_root) + service_path
    if http is None:
        http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=HTTP_TIMEOUT_SECONDS))
    return googleapiclient.discovery.build_from_document(
        _document(api, version), http=http, client_options={"api_endpoint": endpoint})


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
