"""Start and stop the real Cloud Pub/Sub emulator (SPEC §11), as devtools.firestore_emulator does Firestore's.

The SDK's launcher (`platform/pubsub-emulator/bin/cloud-pubsub-emulator`, Debian
package `google-cloud-cli-pubsub-emulator`) runs in a new process group, so
stopping it kills its Java child too. Its JVM runs with C1 only, for the reason
the Firestore module gives.

Two quirks of emulator 0.8.x that tests must respect: a StreamingPull stream
whose client was killed is never released and keeps receiving (and holding)
messages, so a test that kills a worker pulls with unary `pull` or uses a
fresh emulator; and push deliveries carry no Authorization header.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from devtools.firestore_emulator import (
    EMULATOR_JVM_OPTIONS,
    STOP_TIMEOUT_SECONDS,
    EmulatorError,
    free_port,
    sdk_root,
    stop_group,
)

log = logging.getLogger(__name__)

LAUNCHER = Path("platform/pubsub-emulator/bin/cloud-pubsub-emulator")
START_TIMEOUT_SECONDS = 90  # a cold JVM on a busy 2-core machine can take half a minute


class PubSubEmulator:
    """One emulator process group on a free port; `host` is what PUBSUB_EMULATOR_HOST takes."""

    def __init__(self, port: int | None = None, log_path: str | os.PathLike | None = None):
        self.port = port or free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> PubSubEmulator:
        launcher = sdk_root() / LAUNCHER
        if not launcher.exists():
            raise EmulatorError(f"{launcher} not found; install it with `gcloud components install pubsub-emulator` "
                                "or apt-get install google-cloud-cli-pubsub-emulator")
        output = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        java_options = f"{os.environ.get('JAVA_TOOL_OPTIONS', '')} {EMULATOR_JVM_OPTIONS}".strip()
        self.process = subprocess.Popen(
            [str(launcher), "--host=127.0.0.1", f"--port={self.port}"],
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, "JAVA_TOOL_OPTIONS": java_options})
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmulatorError(f"the Pub/Sub emulator exited with {self.process.returncode}")
            if self.ready():
                log.info("pubsub emulator up host=%s pgid=%s", self.host, self.process.pid)
                return self
            time.sleep(0.25)
        self.stop()
        raise EmulatorError(f"the Pub/Sub emulator did not answer on {self.host} in {START_TIMEOUT_SECONDS}s")

    def ready(self) -> bool:
        """The emulator answers its REST root with 200 once it serves."""
        try:
            with urllib.request.urlopen(f"http://{self.host}/", timeout=1) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        """Kill the whole process group (launcher script and Java child)."""
        if self.process is None:
            return
        stop_group(self.process, STOP_TIMEOUT_SECONDS)
        self.process = None

    def __enter__(self) -> PubSubEmulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
