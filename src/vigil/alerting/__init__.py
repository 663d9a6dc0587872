"""Alertmanager's core: the routing tree, silences, inhibition, the notification log and
time intervals (more stages — store, dispatcher — to come)."""

from vigil.alerting._snapshot import SnapshotError
from vigil.alerting.inhibit import Inhibitor
from vigil.alerting.marker import AlertState, AlertStatus, Marker
from vigil.alerting.nflog import DedupStage, Entry, NotificationLog, ReceiverKey, RecordStage
from vigil.alerting.route import Route, RouteOptions, build_tree
from vigil.alerting.silences import (
    Silence,
    SilenceError,
    SilenceNotFound,
    Silences,
    SilenceState,
    check_postable,
)
from vigil.alerting.timeinterval import TimeActiveStage, TimeMuteStage, contains

__all__ = [
    "AlertState",
    "AlertStatus",
    "DedupStage",
    "Entry",
    "Inhibitor",
    "Marker",
    "NotificationLog",
    "ReceiverKey",
    "RecordStage",
    "Route",
    "RouteOptions",
    "Silence",
    "SilenceError",
    "SilenceNotFound",
    "SilenceState",
    "Silences",
    "SnapshotError",
    "TimeActiveStage",
    "TimeMuteStage",
    "build_tree",
    "check_postable",
    "contains",
]
