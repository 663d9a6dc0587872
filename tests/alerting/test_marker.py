"""The marker: an alert is suppressed while any silence or inhibiting alert is recorded for it,
active once both are cleared, unprocessed until someone looked (Alertmanager's memMarker)."""

from __future__ import annotations

import pytest

from vigil.alerting import AlertState, AlertStatus, Marker

FP = 0x1234

# a sequence of (silenced_by, inhibited_by) updates (None: leave unchanged) -> final state
CASES = [
    ("nothing recorded", [], AlertState.UNPROCESSED),
    ("no silence", [((), None)], AlertState.ACTIVE),
    ("no inhibition", [(None, ())], AlertState.ACTIVE),
    ("silenced", [(("s1",), None)], AlertState.SUPPRESSED),
    ("inhibited", [(None, ("00000000000000ab",))], AlertState.SUPPRESSED),
    ("silence ends, still inhibited", [(("s1",), ("ab",)), ((), None)], AlertState.SUPPRESSED),
    ("inhibition ends, still silenced", [(("s1",), ("ab",)), (None, ())], AlertState.SUPPRESSED),
    ("both end", [(("s1",), ("ab",)), ((), None), (None, ())], AlertState.ACTIVE),
]


@pytest.mark.parametrize(("updates", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_state(
    updates: list[tuple[tuple[str, ...] | None, tuple[str, ...] | None]], want: AlertState
) -> None:
    marker = Marker()
    for silenced, inhibited in updates:
        if silenced is not None:
            marker.set_silenced(FP, silenced)
        if inhibited is not None:
            marker.set_inhibited(FP, inhibited)
    assert marker.status(FP).state is want


def test_status_count_and_delete() -> None:
    marker = Marker()
    marker.set_silenced(1, ["s1", "s2"], pending=["s3"], version=7)
    marker.set_inhibited(1, ["ab"])
    marker.set_inhibited(2, [])
    assert marker.status(1) == AlertStatus(AlertState.SUPPRESSED, ("s1", "s2"), ("ab",), ("s3",), 7)
    assert [
        marker.count(),
        marker.count(AlertState.ACTIVE),
        marker.count(AlertState.SUPPRESSED, AlertState.ACTIVE),
    ] == [2, 1, 2]
    marker.delete(1)
    marker.delete(99)
    assert (marker.status(1), marker.count()) == (AlertStatus(), 1)
