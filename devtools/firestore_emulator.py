"""Start and stop the real Cloud Firestore emulator (SPEC §11).

The SDK's own launcher (`platform/cloud-firestore-emulator/cloud_firestore_emulator`)
is started in a new process group, so stopping it kills the Java child as well
(`gcloud emulators firestore start` leaves that child running when killed).

Its JVM runs with C1 only (`EMULATOR_JVM_OPTIONS`). Measured on the 2-core
machine, in a full sync of 10,000 messages (bench/sync.py) the default tiered
JVM spent 15.3 of its 22 CPU-seconds in the C2 compiler threads and 4.5 serving
requests; with C1 only it spent 5.9 serving requests and under 1 compiling,
and the sync took 26.5 s instead of 32.1. Every use of the emulator here (the
tests, the demo, a benchmark) lives minutes, never long enough for C2's faster
code to repay its compile time on two shared cores.

Nothing else is set: during bench/scale.py's no-op passes (2,000 mailboxes, N = 1,
2, 4 workers, per-thread CPU from /proc, 2 December) the Firestore emulator
spent 61% of its CPU in gRPC's executor threads and 36% in netty's event loops,
2.2% collecting garbage and 0.1% compiling; the Pub/Sub emulator 62% in event
loops, 32% in executors, 3% compiling (C1's warm-up) and 0.5% collecting. Another
collector or fewer GC and compiler threads could take a few percent at most:
their CPU is the calls they serve, and only fewer calls lower it.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

log = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 90  # a cold JVM on a busy 2-core machine can take half a minute
STOP_TIMEOUT_SECONDS = 15
EMULATOR_JVM_OPTIONS = "-XX:TieredStopAtLevel=1"  # C1 only: see the module doc


class EmulatorError(RuntimeError):
    """The emulator is not installed or did not start."""


def sdk_root() -> Path:
    """The Cloud SDK root, as `gcloud info` reports it (SPEC §11)."""
    override = os.environ.get("SIDECAR_CLOUD_SDK_ROOT")
    if override:
        return Path(override)
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise EmulatorError("gcloud is not on PATH; install the Cloud SDK and its Firestore emulator "
                            "(apt-get install google-cloud-cli-firestore-emulator)")
    out = subprocess.run([gcloud, "info", "--format=value(installation.sdk_root)"],
                         capture_output=True, text=True, check=True, timeout=60)
    return Path(out.stdout.strip())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmulatorProcess:
    """One emulator of the Cloud SDK as a process group on a free port; `host` is what its client variable takes.

    A subclass names its `LAUNCHER` (under the SDK root), what it is (`NAME`), how to install
    it (`INSTALL_HINT`) and the launcher's arguments (`command`). Its JVM runs with C1 only
    (`EMULATOR_JVM_OPTIONS`, module doc): the launcher scripts pass no JVM options of their
    own, and every JVM reads JAVA_TOOL_OPTIONS.
    """

    NAME = ""
    LAUNCHER = Path()
    INSTALL_HINT = ""

    def __init__(self, port: int | None = None, log_path: str | os.PathLike | None = None):
        self.port = port or free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def command(self, launcher: Path) -> list[str]:
        raise NotImplementedError

    def start(self):
        launcher = sdk_root() / self.LAUNCHER
        if not launcher.exists():
            raise EmulatorError(f"{launcher} not found; install it with {self.INSTALL_HINT}")
        output = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        java_options = f"{os.environ.get('JAVA_TOOL_OPTIONS', '')} {EMULATOR_JVM_OPTIONS}".strip()
        self.process = subprocess.Popen(
            self.command(launcher), stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env={**os.environ, "JAVA_TOOL_OPTIONS": java_options})
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmulatorError(f"the {self.NAME} emulator exited with {self.process.returncode}")
            if self.ready():
                log.info("emulator up name=%s host=%s pgid=%s", self.NAME, self.host, self.process.pid)
                return self
            time.sleep(0.25)
        self.stop()
        raise EmulatorError(f"the {self.NAME} emulator did not answer on {self.host} in {START_TIMEOUT_SECONDS}s")

    def ready(self) -> bool:
        """Both emulators answer their REST root with 200 once they serve."""
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

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class FirestoreEmulator(EmulatorProcess):
    """The Firestore emulator; `host` is what FIRESTORE_EMULATOR_HOST takes."""

    NAME = "Firestore"
    LAUNCHER = Path("platform/cloud-firestore-emulator/cloud_firestore_emulator")
    INSTALL_HINT = ("`gcloud components install cloud-firestore-emulator` or "
                    "apt-get install google-cloud-cli-firestore-emulator")

    def command(self, launcher: Path) -> list[str]:
        return [str(launcher), "start", "--host=127.0.0.1", f"--port={self.port}"]

    def reset(self, project: str) -> None:
        """Delete every document of a project (the emulator's own endpoint)."""
        request = urllib.request.Request(
            f"http://{self.host}/emulator/v1/projects/{project}/databases/(default)/documents", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()


def stop_group(process: subprocess.Popen, grace: float) -> bool:
    """SIGTERM a child's whole process group, SIGKILL what is left after `grace`; True when none is left."""
    pgid = process.pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        if wait_group_gone(pgid, grace, reap=process):
            break
    process.poll()
    return not group_alive(pgid)


def wait_group_gone(pgid: int, timeout: float, reap: subprocess.Popen | None = None) -> bool:
    """Wait until no process of the group is left, reaping our own child meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if reap is not None:
            reap.poll()
        if not group_alive(pgid):
            return True
        time.sleep(0.1)
    return False


def group_alive(pgid: int) -> bool:
    """True while any process of the group still exists."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
