"""A shipper's rounds: the back-off after failed rounds, and the thread that repeats them."""

from __future__ import annotations

import logging
import threading

import pytest

from tests.conftest import PATIENCE_S
from vigil.exporter.rounds import Backoff, IdlePace, RoundThread


def test_the_backoff_doubles_from_a_second_up_to_its_most_and_starts_again_after_a_success() -> (
    None
):
    backoff = Backoff(max_s=5.0)
    delays = []
    for now in (100.0, 200.0, 300.0, 400.0):
        backoff.failed(now)
        delays.append((backoff.delay_s, backoff.waiting(now + backoff.delay_s - 0.5)))
    backoff.succeeded()
    backoff.failed(500.0)
    assert (delays, backoff.delay_s, backoff.waiting(501.0)) == (
        [(1.0, True), (2.0, True), (4.0, True), (5.0, True)],
        1.0,
        False,
    )


def test_the_idle_pace_doubles_after_each_idle_round_up_to_its_most_and_work_resets_it() -> None:
    pace = IdlePace(interval_s=1.0, idle_max_s=5.0)
    waits = [pace.wait_s]
    for _ in range(4):
        pace.idle()
        waits.append(pace.wait_s)
    pace.worked()
    assert (waits, pace.wait_s) == ([1.0, 2.0, 4.0, 5.0, 5.0], 1.0)


def test_rounds_run_again_at_once_while_there_is_more_and_stop_ends_the_wait() -> None:
    ran = []
    fourth = threading.Event()

    def run_round() -> bool:
        ran.append(len(ran))
        if len(ran) == 4:
            fourth.set()
        return len(ran) < 4

    rounds = RoundThread("test-rounds", run_round, interval_s=3600.0, failure="x")
    rounds.start()
    assert fourth.wait(PATIENCE_S)
    rounds.stop()
    assert ran == [0, 1, 2, 3]


def test_a_failing_round_is_logged_and_the_rounds_go_on(caplog: pytest.LogCaptureFixture) -> None:
    calls = []
    again = threading.Event()

    def run_round() -> bool:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk full")
        again.set()
        return False

    rounds = RoundThread("test-rounds", run_round, interval_s=0.0, failure="shipping failed")
    with caplog.at_level(logging.ERROR):
        rounds.start()
        assert again.wait(PATIENCE_S)
        rounds.stop()
    assert [r.getMessage() for r in caplog.records] == ["shipping failed: disk full"]
