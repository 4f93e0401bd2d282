"""The sync service's entrypoint (sync.yaml): a dispatcher and N workers, and a health answer on $PORT.

App Engine flexible checks every instance over HTTP, so this answers 200 on
any path while its children run, and 503 once one of them died (the instance
is then replaced). The dispatcher runs on every instance: one leads (the
Firestore leader lease), the others wait to take over. SIGTERM is passed to
the children, which commit what they have and stop.
"""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import threading

WORKERS = int(os.environ.get("SIDECAR_WORKER_PROCESSES", "2"))


def main() -> int:
    children = [subprocess.Popen([sys.executable, "-m", "sync", "dispatch"])]
    children += [subprocess.Popen([sys.executable, "-m", "sync", "worker"]) for _ in range(WORKERS)]

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            alive = all(child.poll() is None for child in children)
            self.send_response(200 if alive else 503)
            self.end_headers()
            self.wfile.write(b"ok" if alive else b"a sync process died")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("", int(os.environ.get("PORT", "8080"))), Health)

    def stop(signum, _frame):
        for child in children:
            child.send_signal(signum)
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    return max((child.wait() or 0) for child in children)


if __name__ == "__main__":
    sys.exit(main())
