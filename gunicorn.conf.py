"""gunicorn reads this file from the working directory: it checks the configuration before serving.

A missing or invalid variable stops the server at start with a message that
names it (SPEC §4), rather than on the first request.
"""

import sys

from config import Config, ConfigError

# Worker model (issue #12.12), sized from `python -m bench.cards` (bursts of 200 concurrent Gmail cards on
# loopback, 2 shared cores, p95 over 3 bursts; noisy, so read the spread, not the digits):
#   gthread 1x8 1.66 s, 1x16 1.86 s, 1x32 1.97 s | 2x4 1.23 s, 2x8 1.41-1.45 s, 2x16 1.38-1.51 s, 2x32 1.23 s |
#   4x4 1.44 s, 4x8 1.01-1.39 s, 4x16 1.28 s, 8x4 1.03 s; one worker's RSS ~105 MB.
# A card is a few Firestore round trips (I/O) plus ~10-20 ms of Python (verification, parsing, the card)
# that holds the GIL. So: processes for CPU, one per core (a second worker is the clearest gain above;
# more did not beat the noise here, and each costs ~105 MB of the instance's memory); threads for the
# waits, enough that a worker's core stays busy while its cards wait on Firestore (~5-15 ms a round trip
# in production, not the emulator's ~1 ms) or on the Gmail API fallback (seconds). 16 covers both; more
# threads did not help and only add GIL hand-offs. gevent is not used: it is not a dependency, and grpc
# (Firestore) needs its own gevent patching to cooperate.
worker_class = "gthread"
workers = 2
threads = 16  # app.yaml's max_concurrent_requests is workers x threads
timeout = 60  # gunicorn kills a stuck worker; a trigger answers within SIDECAR_TRIGGER_BUDGET_SECONDS (20)


def on_starting(server):
    try:
        Config.from_env(web=True)
    except ConfigError as exc:
        sys.stderr.write(f"sidecar: configuration error: {exc}\n")
        sys.exit(2)
