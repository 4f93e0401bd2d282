"""The emulator harness: how the emulator's JVM is started."""

from __future__ import annotations

from pathlib import Path

from devtools.firestore_emulator import EMULATOR_JVM_OPTIONS


def _group_members(pgid: int) -> list[Path]:
    members = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if int((proc / "stat").read_text().rsplit(")", 1)[1].split()[2]) == pgid:
                    members.append(proc)
            except (FileNotFoundError, ProcessLookupError):
                continue
    return members


def test_the_emulator_jvm_runs_with_the_harness_options(firestore_emulator):
    """C1 only: on two cores the C2 compiler cost the emulator more CPU than the requests it served."""
    java = [p for p in _group_members(firestore_emulator.process.pid)
            if (p / "comm").read_text().strip() == "java"]
    assert len(java) == 1
    environment = dict(item.split("=", 1) for item in (java[0] / "environ").read_text().split("\0") if "=" in item)
    assert EMULATOR_JVM_OPTIONS in environment["JAVA_TOOL_OPTIONS"].split()
