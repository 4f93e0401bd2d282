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

from pathlib import Path

from devtools.firestore_emulator import EmulatorProcess


class PubSubEmulator(EmulatorProcess):
    """The Pub/Sub emulator; `host` is what PUBSUB_EMULATOR_HOST takes."""

    NAME = "Pub/Sub"
    LAUNCHER = Path("platform/pubsub-emulator/bin/cloud-pubsub-emulator")
    INSTALL_HINT = "`gcloud components install pubsub-emulator` or apt-get install google-cloud-cli-pubsub-emulator"

    def command(self, launcher: Path) -> list[str]:
        return [str(launcher), "--host=127.0.0.1", f"--port={self.port}"]
