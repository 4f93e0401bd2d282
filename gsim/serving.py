"""gsim's HTTP/1.1 server: persistent connections, as Google's front ends keep them.

Google's front ends (GFE) speak HTTP/1.1 with keep-alive on by default and close a
client connection only after 610 s without a request; google-api-python-client's
httplib2 and google-auth's token refresh (which goes through the same
``AuthorizedHttp`` connection) reuse a connection for as long as the server keeps
it. werkzeug's development server, which gsim used before, answers every request
with ``Connection: close`` (its handler cannot drain a request body safely on a
kept connection), so against it every call, token requests included, paid a new TCP
connection, a new server thread and werkzeug's drain (a ``select`` of up to 10 ms
after every response). That cost was the simulator's, not Google's, and it showed
as CPU of the simulator in ``bench/scale.py``.

What this server does, and decided where HTTP leaves room:

- one thread per connection (``socketserver.ThreadingMixIn``), requests on a
  connection answered in order; a request body is read whole before the
  application runs (``Content-Length`` or ``chunked``), so the next request on
  the connection always starts at a request line;
- every response carries ``Content-Length`` (no chunked responses: the app's
  bodies are built in memory) and goes out in one ``sendall`` with Nagle off, so
  a small response never waits for the peer's delayed ACK;
- ``Connection: close`` from the client, or HTTP/1.0 without keep-alive, closes
  after the response (``http.server``'s rules); a connection idle for
  `IDLE_TIMEOUT_SECONDS` is closed, as the GFE does;
- `ThreadingHTTP11Server.server_close` shuts every open connection down, so a
  stopped simulator is gone for clients that hold a kept connection too (they
  reconnect and meet a refused port, as they would a stopped server);
- the request line and header fields are parsed here (`_Handler._parse_request`),
  with `http.server`'s limits and answers: its own parser hands the header block
  to the ``email`` package, a third of the simulator's CPU per request;
- the application is a plain WSGI callable (`gsim.server.Server`), given the
  environ werkzeug's server built (``PATH_INFO`` percent-decoded and in WSGI's
  latin-1 form, headers with ``_`` in their name dropped, repeated ones joined),
  so the simulator's behaviour does not depend on which server runs it.
"""

from __future__ import annotations

import email.utils
import http.server
import io
import logging
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

log = logging.getLogger(__name__)

IDLE_TIMEOUT_SECONDS = 610  # Google Cloud: the GFE's client HTTP keep-alive timeout is 610 seconds
MAX_CHUNK_LINE = 1024  # bytes of a chunk-size line ("hex size; extensions"), as http.client allows
MAX_LINE = 65_536  # http.server's and http.client's limit on a request or header line (414, 431 above it)
MAX_HEADERS = 100  # http.client's limit on the header fields of a message (431 above it)


class Fields:
    """A request's header fields in order: `get` (case-insensitive, the first of that name) and `items`."""

    __slots__ = ("_items",)

    def __init__(self):
        self._items: list[tuple[str, str]] = []

    def add(self, name: str, value: str) -> None:
        self._items.append((name, value))

    def extend_last(self, text: str) -> None:
        name, value = self._items[-1]
        self._items[-1] = (name, f"{value} {text}")

    def get(self, name: str, default=None):
        wanted = name.lower()
        return next((value for key, value in self._items if key.lower() == wanted), default)

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)


class _RequestError(Exception):
    """A request whose body cannot be read: answered 400 and the connection closed."""


class _Handler(http.server.BaseHTTPRequestHandler):
    """One connection: requests read, handed to the WSGI application, answered with Content-Length."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_SECONDS  # StreamRequestHandler sets it on the socket; a timed-out read ends the connection
    disable_nagle_algorithm = True
    server: ThreadingHTTP11Server

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(MAX_LINE + 1)
            if not self.raw_requestline:
                self.close_connection = True
                return
            if self._parse_request():  # else it answered the error itself
                self._serve()
        except TimeoutError:
            self.close_connection = True  # idle past IDLE_TIMEOUT_SECONDS, or a peer that stopped sending
        except (ConnectionError, OSError):
            self.close_connection = True  # the peer went away, or server_close shut the socket down

    def _parse_request(self) -> bool:
        """The request line and header fields (RFC 9112), as `http.server`'s `parse_request` reads them.

        Not `parse_request` itself: it hands the header block to the `email` package's
        feed parser, which was a third of the simulator's CPU per request. Kept from it:
        its limits (line length, 100 fields), its answers (400, 414, 431, 505), its
        connection rules (HTTP/1.1 keeps the connection unless ``Connection: close``,
        HTTP/1.0 closes it unless ``keep-alive``) and ``Expect: 100-continue``.
        """
        self.command, self.request_version = None, "HTTP/1.0"  # the status line of an error answered below
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        if len(self.raw_requestline) > MAX_LINE:
            self.requestline = ""
            self.send_error(414)
            return False
        words = self.requestline.split()
        if len(words) != 3 or not words[2].startswith("HTTP/"):
            self.send_error(400, f"Bad request syntax ({self.requestline!r})")
            return False
        command, path, version = words
        if version not in ("HTTP/1.0", "HTTP/1.1"):
            self.send_error(505, f"Invalid HTTP version ({version})")
            return False
        self.command, self.path, self.request_version = command, path, version
        headers = Fields()
        while True:
            raw = self.rfile.readline(MAX_LINE + 1)
            if len(raw) > MAX_LINE:
                self.send_error(431, "Line too long")
                return False
            if raw in (b"\r\n", b"\n", b""):
                break
            if len(headers) >= MAX_HEADERS:
                self.send_error(431, "Too many headers")
                return False
            text = raw.decode("iso-8859-1").rstrip("\r\n")
            if text[:1] in (" ", "\t") and len(headers):
                headers.extend_last(text.strip())  # an obsolete folded line continues the field before
                continue
            name, colon, value = text.partition(":")
            if not colon or not name or name != name.strip():
                self.send_error(400, f"Bad header line ({text!r})")
                return False
            headers.add(name, value.strip())
        self.headers = headers
        connection = headers.get("Connection", "").lower()
        if version == "HTTP/1.1":
            self.close_connection = "close" in connection
            if headers.get("Expect", "").lower() == "100-continue":
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        else:
            self.close_connection = "keep-alive" not in connection
        return True

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except _RequestError as exc:
            self.close_connection = True
            self.send_error(400, str(exc))
            return
        environ = self._environ(body)
        answer: dict = {}

        def start_response(status, headers, exc_info=None):
            answer["status"], answer["headers"] = status, headers
            return answer.setdefault("written", []).append

        try:
            result = self.server.app(environ, start_response)
            try:
                chunks = answer.get("written", []) + list(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except Exception:  # noqa: BLE001 - a fault of the simulator answers 500 and is logged, as werkzeug did
            log.exception("gsim request failed method=%s path=%s", self.command, environ["PATH_INFO"])
            answer = {"status": "500 Internal Server Error", "headers": [("Content-Type", "text/plain")]}
            chunks = [b"Internal Server Error"]
        self._respond(answer["status"], answer["headers"], b"".join(chunks))

    def _respond(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        code = int(status.split(None, 1)[0])
        lines = [f"{self.protocol_version} {status}", f"Server: {self.version_string()}", f"Date: {_http_date()}"]
        has_length = False
        for key, value in headers:
            lines.append(f"{key}: {value}")
            has_length = has_length or key.lower() == "content-length"
        no_body = self.command == "HEAD" or code < 200 or code in (204, 304)
        if not has_length and not no_body:
            lines.append(f"Content-Length: {len(body)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head if no_body else head + body)
        self.log_request(code, len(body))

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError:
            raise _RequestError("bad Content-Length") from None
        if length < 0:
            raise _RequestError("bad Content-Length")
        body = self.rfile.read(length)
        if len(body) != length:
            raise _RequestError("body shorter than its Content-Length")
        return body

    def _read_chunked(self) -> bytes:
        parts = []
        while True:
            line = self.rfile.readline(MAX_CHUNK_LINE)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _RequestError("bad chunk size") from None
            if size == 0:
                while self.rfile.readline(MAX_CHUNK_LINE) not in (b"\r\n", b"\n", b""):
                    pass  # trailer fields: none of our clients sends any, and none is needed
                return b"".join(parts)
            chunk = self.rfile.read(size)
            if len(chunk) != size or self.rfile.readline(MAX_CHUNK_LINE) not in (b"\r\n", b"\n"):
                raise _RequestError("truncated chunk")
            parts.append(chunk)

    def _environ(self, body: bytes) -> dict:
        url = urllib.parse.urlsplit(self.path)
        # a path starting with "//" reads as a netloc to urlsplit (werkzeug puts it back the same way)
        path = f"/{url.netloc}{url.path}" if not url.scheme and url.netloc else url.path
        environ = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": urllib.parse.unquote(path).encode().decode("latin-1"),
            "QUERY_STRING": url.query.encode().decode("latin-1"),
            "REQUEST_URI": self.path.encode().decode("latin-1"),
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": self.client_address[1],
            "SERVER_NAME": self.server.server_address[0],
            "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": self.request_version,
            "CONTENT_LENGTH": str(len(body)),
        }
        for key, value in self.headers.items():
            if "_" in key:
                continue  # werkzeug's rule: an underscore header could pass for a dashed one
            key = key.upper().replace("-", "_")
            if key in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
                continue  # the body is read whole already: its length is the one above
            value = value.replace("\r\n", "")
            if key != "CONTENT_TYPE":
                key = "HTTP_" + key
                if key in environ:
                    value = f"{environ[key]},{value}"
            environ[key] = value
        return environ

    def log_request(self, code="-", size="-") -> None:
        log.debug("%s %s %s", self.requestline, code, size)

    def log_message(self, format, *args) -> None:  # noqa: A002 - http.server's signature
        log.debug(format, *args)


_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    """The Date header's value (RFC 9110 IMF-fixdate), formatted once a second rather than once a response."""
    global _date_cache
    now = int(time.time())
    second, text = _date_cache
    if second != now:
        text = email.utils.formatdate(now, usegmt=True)
        _date_cache = (now, text)  # one tuple: a racing thread reads the old second or the new, never half
    return text


class ThreadingHTTP11Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """A threaded HTTP/1.1 server over one WSGI application; see the module doc.

    A `socketserver.TCPServer`, not `http.server.HTTPServer`, whose bind looks the
    host's fully qualified name up (a resolver call) for a name nothing here uses.
    """

    allow_reuse_address = True  # a restarted simulator rebinds its port at once, as HTTPServer allows
    daemon_threads = True  # a connection's thread never holds the process up; server_close ends them
    block_on_close = False
    request_queue_size = socket.SOMAXCONN  # socketserver's 5 drops connects when dozens of workers start at once

    def __init__(self, host: str, port: int, app):
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self.accepted = 0  # connections accepted so far (tests: clients keep theirs)
        super().__init__((host, port), _Handler)
        self.server_port = self.server_address[1]  # the bound port when 0 asked for a free one

    def process_request(self, request, client_address) -> None:
        with self._connections_lock:
            self._connections.add(request)
            self.accepted += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        """Stop listening and shut every kept connection down (their threads then end)."""
        super().server_close()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its peer
