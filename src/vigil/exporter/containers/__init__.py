"""Container and OOM-kill collectors for `vigil agent`: cgroup v1/v2 accounting under cAdvisor's
names, Docker state and deaths classified by why (never just "137"), host OOM kills, and processes
picked by name."""

from vigil.exporter.containers.deaths import DeathEvidence, DeathReason, classify_death
from vigil.exporter.containers.exporter import ContainerExporter, build_exporter
from vigil.exporter.containers.options import Clock, ContainerOptions

__all__ = [
    "Clock",
    "ContainerExporter",
    "ContainerOptions",
    "DeathEvidence",
    "DeathReason",
    "build_exporter",
    "classify_death",
]
