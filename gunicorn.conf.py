"""gunicorn reads this file from the working directory: it checks the configuration before serving.

A missing or invalid variable stops the server at start with a message that
names it (SPEC §4), rather than on the first request.
"""

import sys

from config import Config, ConfigError

workers = 2
threads = 8
timeout = 60


def on_starting(server):
    try:
        Config.from_env(web=True)
    except ConfigError as exc:
        sys.stderr.write(f"sidecar: configuration error: {exc}\n")
        sys.exit(2)
