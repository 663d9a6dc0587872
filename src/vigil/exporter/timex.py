"""The kernel clock's discipline state from adjtimex(2) (read-only: modes 0), scaled as
node_exporter 1.5's timex collector does: offsets in µs or ns by STA_NANO, frequencies in
ppm with a 16-bit fraction, error bounds in µs."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from vigil.exporter._collector import NoDataError

TIME_ERROR = 5  # adjtimex's answer when the clock is not synchronised
STA_NANO = 0x2000  # status bit: offset and jitter are in ns instead of µs
_NANOSECONDS = 1e9
_MICROSECONDS = 1e6
_PPM16FRAC = 1_000_000.0 * 65536.0  # see NOTES in adjtimex(2)


@dataclass(frozen=True, slots=True)
class ClockState:
    """adjtimex's return value (`state`) and the `struct timex` fields node_exporter reports."""

    state: int
    offset: int
    freq: int
    maxerror: int
    esterror: int
    status: int
    constant: int
    tick: int
    ppsfreq: int
    jitter: int
    shift: int
    stabil: int
    jitcnt: int
    calcnt: int
    errcnt: int
    stbcnt: int
    tai: int


class _Timex(ctypes.Structure):
    """glibc's `struct timex` (the kernel's layout: longs, ints padded to the next long)."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    ]


def system_adjtimex() -> Callable[[], ClockState]:
    """This host's adjtimex(2) through the C library; each call reads the clock state anew and
    raises OSError with the call's errno when the kernel refuses."""
    call = ctypes.CDLL(None, use_errno=True).adjtimex
    call.argtypes = [ctypes.POINTER(_Timex)]
    call.restype = ctypes.c_int

    def adjtimex() -> ClockState:
        buf = _Timex()  # modes 0: read, change nothing
        state = call(ctypes.byref(buf))
        if state == -1:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
        return ClockState(
            state, buf.offset, buf.freq, buf.maxerror, buf.esterror, buf.status, buf.constant,
            buf.tick, buf.ppsfreq, buf.jitter, buf.shift, buf.stabil, buf.jitcnt, buf.calcnt,
            buf.errcnt, buf.stbcnt, buf.tai,
        )  # fmt: skip

    return adjtimex


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"node_timex_{name}", help_text, value=value)


def _counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(f"node_timex_{name}", help_text, value=value)


class TimexCollector:
    name = "timex"

    def __init__(self, adjtimex: Callable[[], ClockState]) -> None:
        self._adjtimex = adjtimex

    def collect(self) -> list[Metric]:
        try:
            t = self._adjtimex()
        except PermissionError as err:  # a seccomp profile may refuse even a read
            raise NoDataError(f"adjtimex: {err.strerror}") from None
        divisor = _NANOSECONDS if t.status & STA_NANO else _MICROSECONDS
        return [
            _gauge(
                "sync_status",
                "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
                0.0 if t.state == TIME_ERROR else 1.0,
            ),
            _gauge(
                "offset_seconds",
                "Time offset in between local system and reference clock.",
                t.offset / divisor,
            ),
            _gauge(
                "frequency_adjustment_ratio",
                "Local clock frequency adjustment.",
                1 + t.freq / _PPM16FRAC,
            ),
            _gauge("maxerror_seconds", "Maximum error in seconds.", t.maxerror / _MICROSECONDS),
            _gauge(
                "estimated_error_seconds", "Estimated error in seconds.", t.esterror / _MICROSECONDS
            ),
            _gauge("status", "Value of the status array bits.", float(t.status)),
            _gauge("loop_time_constant", "Phase-locked loop time constant.", float(t.constant)),
            _gauge("tick_seconds", "Seconds between clock ticks.", t.tick / _MICROSECONDS),
            _gauge("pps_frequency_hertz", "Pulse per second frequency.", t.ppsfreq / _PPM16FRAC),
            _gauge("pps_jitter_seconds", "Pulse per second jitter.", t.jitter / divisor),
            _gauge("pps_shift_seconds", "Pulse per second interval duration.", float(t.shift)),
            _gauge(
                "pps_stability_hertz",
                "Pulse per second stability, average of recent frequency changes.",
                t.stabil / _PPM16FRAC,
            ),
            _counter(
                "pps_jitter_total",
                "Pulse per second count of jitter limit exceeded events.",
                float(t.jitcnt),
            ),
            _counter(
                "pps_calibration_total",
                "Pulse per second count of calibration intervals.",
                float(t.calcnt),
            ),
            _counter(
                "pps_error_total", "Pulse per second count of calibration errors.", float(t.errcnt)
            ),
            _counter(
                "pps_stability_exceeded_total",
                "Pulse per second count of stability limit exceeded events.",
                float(t.stbcnt),
            ),
            _gauge("tai_offset_seconds", "International Atomic Time (TAI) offset.", float(t.tai)),
        ]
