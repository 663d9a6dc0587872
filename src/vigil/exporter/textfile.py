"""Metrics other programs write as `*.prom` files (`--collector.textfile.directory`), with
node_exporter's rules: a file that does not parse, or carries timestamps, is skipped whole and
sets node_textfile_scrape_error; every file read is reported in node_textfile_mtime_seconds."""

from __future__ import annotations

import glob
import logging
import os
from dataclasses import dataclass, field

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.samples import Sample as ClientSample

from vigil.exposition import MetricFamily, MetricType, ParseError
from vigil.exposition.text import parse_text

log = logging.getLogger("vigil.exporter.textfile")

# Labels that belong to the sample's position in a histogram or summary, not to the series.
_STRUCTURAL = {MetricType.HISTOGRAM: "le", MetricType.SUMMARY: "quantile"}


class TextfileError(Exception):
    """A `*.prom` file that is skipped, and why."""


@dataclass(slots=True)
class _Merged:
    """One family as read from every file that has it; the first HELP given wins."""

    family: MetricFamily
    files: list[str] = field(default_factory=list)


def read_prom_file(path: str) -> tuple[list[MetricFamily], float]:
    """The families of one file and its mtime (taken after it parsed, so a bad file never looks fresh)."""
    with open(path, "rb") as f:
        text = f.read().decode("utf-8")
        try:
            families = parse_text(text)
        except ParseError as err:
            raise TextfileError(f"failed to parse textfile data from {path}: {err}") from None
        for family in families:
            if any(sample.timestamp_ms is not None for sample in family.samples):
                raise TextfileError(
                    f"textfile {path} contains unsupported client-side timestamps, skipping entire file"
                )
        return families, float(int(os.fstat(f.fileno()).st_mtime))


def to_client_metric(family: MetricFamily, help_text: str) -> Metric:
    """A prometheus_client family; series missing a label another series has get it empty."""
    structural = _STRUCTURAL.get(family.type)
    names: dict[str, None] = {}
    for sample in family.samples:
        for key, _ in sample.labels:
            if key != structural:
                names[key] = None
    metric = Metric(family.name, help_text, family.type.value)
    for sample in family.samples:
        labels = dict(sample.labels)
        for key in names:
            labels.setdefault(key, "")
        metric.samples.append(ClientSample(sample.name, labels, sample.value, None, None))
    return metric


class TextfileCollector:
    name = "textfile"

    def __init__(self, directory: str) -> None:
        self._directory = directory

    def _directories(self) -> list[str]:
        if not self._directory:
            return []
        return sorted(glob.glob(self._directory)) or [self._directory]

    def collect(self) -> list[Metric]:
        errored = False
        merged: dict[str, _Merged] = {}
        mtimes: dict[str, float] = {}
        for directory in self._directories():
            try:
                names = sorted(os.listdir(directory))
            except OSError as err:
                errored = True
                log.error("failed to read textfile collector directory %s: %s", directory, err)
                continue
            for name in names:
                if not name.endswith(".prom"):
                    continue
                path = os.path.join(directory, name)
                try:
                    families, mtime = read_prom_file(path)
                except (OSError, UnicodeDecodeError, TextfileError) as err:
                    errored = True
                    log.error("failed to collect textfile data from %s: %s", path, err)
                    continue
                mtimes[path] = mtime
                errored |= _merge(merged, families, path)
        out: list[Metric] = []
        for entry in merged.values():
            help_text = entry.family.help
            if help_text is None:
                help_text = "Metric read from " + ", ".join(entry.files)
            out.append(to_client_metric(entry.family, help_text))
        if mtimes:
            mtime_family = GaugeMetricFamily(
                "node_textfile_mtime_seconds",
                "Unixtime mtime of textfiles successfully read.",
                labels=["file"],
            )
            for path in sorted(mtimes):
                mtime_family.add_metric([path], mtimes[path])
            out.append(mtime_family)
        out.append(
            GaugeMetricFamily(
                "node_textfile_scrape_error",
                "1 if there was an error opening or reading a file, 0 otherwise",
                value=1.0 if errored else 0.0,
            )
        )
        return out


def _merge(merged: dict[str, _Merged], families: list[MetricFamily], path: str) -> bool:
    """Add one file's families; True when one of them contradicts an earlier file's HELP or TYPE."""
    errored = False
    for family in families:
        entry = merged.get(family.name)
        if entry is None:
            merged[family.name] = _Merged(
                MetricFamily(
                    family.name, family.type, family.help, family.unit, list(family.samples)
                ),
                [path],
            )
            continue
        first = entry.family
        if family.type != first.type or (
            family.help is not None and first.help is not None and family.help != first.help
        ):
            errored = True
            log.error(
                "inconsistent metric %s in %s: HELP %r / TYPE %s, first read as HELP %r / TYPE %s in %s",
                family.name,
                path,
                family.help,
                family.type.value,
                first.help,
                first.type.value,
                entry.files[0],
            )
            continue
        if first.help is None:
            first.help = family.help
        first.samples.extend(family.samples)
        entry.files.append(path)
    return errored
