"""Triggers run on kept threads (addon.context.TriggerThreads): reused when free, never waited for."""

from __future__ import annotations

import threading

from addon.context import TriggerThreads

WAIT_SECONDS = 5  # far longer than any of these tasks takes; only a failure waits it out


def run_and_wait(threads: TriggerThreads, task) -> None:
    done = threading.Event()

    def wrapped() -> None:
        task()
        done.set()

    threads.run(wrapped)
    assert done.wait(WAIT_SECONDS)


def test_a_trigger_runs_on_the_thread_the_last_one_left_waiting():
    threads, ran_on = TriggerThreads(), []
    for _ in range(3):
        run_and_wait(threads, lambda: ran_on.append(threading.get_ident()))
        # the thread counts itself as waiting just after its task: give it the moment it needs
        for _ in range(100):
            if threads.waiting:
                break
            threading.Event().wait(0.01)

    assert len(set(ran_on)) == 1 and ran_on[0] != threading.get_ident()


def test_a_trigger_never_waits_for_one_still_running():
    threads, release = TriggerThreads(), threading.Event()
    started = threading.Event()

    def slow() -> None:
        started.set()
        release.wait(WAIT_SECONDS)

    threads.run(slow)
    assert started.wait(WAIT_SECONDS)
    try:
        run_and_wait(threads, lambda: None)  # another thread takes it while the first is busy
    finally:
        release.set()
