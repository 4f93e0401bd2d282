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

Sync acts as thousands of mailboxes, and building a Resource costs more than a
no-op sync may spend: googleapiclient makes every method of a resource (and
its docstring, pretty-printing the request and response schemas) each time
one is built, for Calendar's `events()` alone milliseconds of CPU. So
`bound_service` does not build one per mailbox: it hands out a `Service`, a
view of the process's one Resource tree per API, version and endpoint
(`_Node`, each nested resource built once, on first use), that puts the
mailbox's own connection on every request it makes (`HttpRequest.http`, the
transport the request's `execute()` uses and a batch takes each part's
credentials from). The shared Resources themselves hold `_Unbound`, which
refuses to send anything: a request that missed its connection fails loudly
instead of going out as nobody. A Resource's methods only read it (each call
builds a new `HttpRequest`), so threads share the tree; googleapiclient's
universe check is made against the shared tree's `_Unbound` (no credentials:
the default universe, googleapis.com, which is where a service-account key's
delegation acts). `build_service` still builds a whole Resource around one
connection, for callers that make a single request (the add-on) and tests.

Connections: `new_connection` is one httplib2 connection (not thread-safe:
one thread uses it); a process that syncs keeps one per thread and wraps it
in each mailbox's credentials (`authorized_http`), so the mailboxes a thread
syncs one after another reuse its keep-alive connection instead of opening
(against Google, handshaking TLS for) two new ones each. The simulator keeps
connections alive as Google's front ends do (`gsim.serving`), so the
benchmarks see this saving too.
"""

from __future__ import annotations

import functools
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
_trees: dict[tuple[str, str, str], _Node] = {}  # (api, version, endpoint) -> the process's shared Resource tree
_trees_lock = threading.Lock()


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
        http = authorized_http(credentials)
    return googleapiclient.discovery.build_from_document(
        _document(api, version), http=http, client_options={"api_endpoint": endpoint})


def new_connection() -> httplib2.Http:
    """One HTTP connection (keep-alive, per host), for one thread at a time (httplib2 is not thread-safe)."""
    return httplib2.Http(timeout=HTTP_TIMEOUT_SECONDS)


def authorized_http(credentials, connection: httplib2.Http | None = None) -> google_auth_httplib2.AuthorizedHttp:
    """`connection` (a new one when None) sending as `credentials`: a token on every request, refreshed on 401."""
    return google_auth_httplib2.AuthorizedHttp(credentials, http=connection or new_connection())


def twin_http(authorized):
    """A second HTTP connection with the same credentials, for another thread (httplib2 is not thread-safe)."""
    return authorized_http(authorized.credentials)


class _Unbound:
    """The transport of the shared Resources (module doc): they build requests and never send one."""

    def request(self, *args, **kwargs):
        raise RuntimeError("a request of a shared Resource was sent without a user's connection")


class _Node:
    """One Resource of a shared tree, its nested resources built once, on first use (thread-safe)."""

    def __init__(self, resource):
        self.resource = resource
        self._members: dict[str, object] = {}
        self._lock = threading.Lock()

    def member(self, name: str):
        """The nested resource `name` (a `_Node`) or the method `name` of this Resource."""
        found = self._members.get(name)
        if found is None:
            with self._lock:
                found = self._members.get(name)
                if found is None:
                    attribute = getattr(self.resource, name)
                    # googleapiclient marks the methods that build a nested resource
                    found = _Node(attribute()) if getattr(attribute, "__is_resource__", False) else attribute
                    self._members[name] = found
        return found


class Service:
    """A Resource acting as one user: `service.users().history().list(...)` as on a googleapiclient Resource,
    each request carrying the user's connection (`http`); see the module doc."""

    __slots__ = ("_node", "_http")

    def __init__(self, node: _Node, http):
        self._node = node
        self._http = http  # the user's authorised connection (`MailboxApi` twins it for other threads)

    def __getattr__(self, name: str):
        member = self._node.member(name)
        if isinstance(member, _Node):
            return functools.partial(Service, member, self._http)
        return functools.partial(_on_connection, member, self._http)


def _on_connection(method, http, *args, **kwargs):
    request = method(*args, **kwargs)
    request.http = http  # the transport `execute()` uses, and where a batch takes the part's credentials
    return request


def _tree(api: str, version: str, endpoint: str) -> _Node:
    with _trees_lock:
        tree = _trees.get((api, version, endpoint))
        if tree is None:
            tree = _trees[(api, version, endpoint)] = _Node(googleapiclient.discovery.build_from_document(
                _document(api, version), http=_Unbound(), client_options={"api_endpoint": endpoint}))
        return tree


def bound_service(api: str, version: str, api_root: str, http) -> Service:
    """The process's Resource tree of an API under ``api_root``, sending through ``http`` (an authorised
    connection, `authorized_http`): what a googleapiclient Resource does, without building one (module doc)."""
    service_path, _ = _layout(api, version)
    return Service(_tree(api, version, normalise_root(api_root) + service_path), http)


def batch_uri(api: str, version: str, api_root: str) -> str:
    return normalise_root(api_root) + _layout(api, version)[1]


def new_batch(api: str, api_root: str, callback=None, version: str | None = None) -> BatchHttpRequest:
    """The real BatchHttpRequest, posting to this API's batch path under ``api_root`` (the API's one version
    in `API_LAYOUT` unless ``version`` is given)."""
    version = version or next(known for name, known in API_LAYOUT if name == api)
    return BatchHttpRequest(callback=callback, batch_uri=batch_uri(api, version, api_root))
