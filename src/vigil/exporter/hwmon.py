"""Hardware sensors (temperatures, fans, voltages, power) from /sys/class/hwmon, named and scaled
as node_exporter 1.5 does (lm-sensors' units: millidegrees, millivolts, microwatts)."""

from __future__ import annotations

import os
import re

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from vigil.exporter._collector import NoDataError
from vigil.exporter._options import HostPaths

_INVALID = re.compile(r"[^a-z0-9:_]")
_FILENAME = re.compile(r"^(?P<type>[^0-9]+)(?P<id>[0-9]*)?(_(?P<property>.+))?$")
_SENSOR_TYPES = frozenset(
    {
        "vrm",
        "beep_enable",
        "update_interval",
        "in",
        "cpu",
        "fan",
        "pwm",
        "temp",
        "curr",
        "power",
        "energy",
        "humidity",
        "intrusion",
    }
)
_LABELS = ["chip", "sensor"]


def clean_name(name: str) -> str:
    return _INVALID.sub("_", name.lower()).strip("_")


def explode_sensor_filename(filename: str) -> tuple[str, int, str] | None:
    """`temp1_input` -> ("temp", 1, "input"); None when the name is not a sensor file."""
    match = _FILENAME.match(filename)
    if match is None:
        return None
    number = match.group("id")
    return match.group("type"), int(number) if number else 0, match.group("property") or ""


def _read_value(path: str) -> str | None:
    """One read of at most 128 bytes: some broken drivers answer EAGAIN forever to a read loop."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        return os.read(fd, 128).decode("utf-8", "replace").strip("\n")
    except OSError:
        return None
    finally:
        os.close(fd)


def _parse_float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


class HwmonCollector:
    name = "hwmon"

    def __init__(self, paths: HostPaths) -> None:
        self._dir = paths.sys("class", "hwmon")

    def collect(self) -> list[Metric]:
        try:
            entries = sorted(os.listdir(self._dir))
        except FileNotFoundError:
            raise NoDataError(
                f"{self._dir} is missing: no hardware monitors on this host"
            ) from None
        out = _Families()
        for entry in entries:
            chip_dir = os.path.join(self._dir, entry)
            if os.path.isdir(chip_dir):
                self._chip(out, chip_dir)
        return out.families()

    def _chip(self, out: _Families, chip_dir: str) -> None:
        chip = _chip_name(chip_dir)
        data: dict[str, dict[str, str]] = {}
        _collect_sensor_data(chip_dir, data)
        device_dir = os.path.join(chip_dir, "device")
        if os.path.exists(device_dir):
            _collect_sensor_data(device_dir, data)
        human = _read_value(os.path.join(chip_dir, "name"))
        if human and clean_name(human):
            out.gauge(
                "node_hwmon_chip_names",
                "Annotation metric for human-readable chip names",
                ["chip", "chip_name"],
                [chip, clean_name(human)],
                1.0,
            )
        for sensor, props in sorted(data.items()):
            exploded = explode_sensor_filename(sensor)
            if exploded is None:
                continue
            kind = exploded[0]
            labels = [chip, sensor]
            label_text = clean_name(props.get("label", ""))
            if label_text:
                out.gauge(
                    "node_hwmon_sensor_label",
                    "Label for given chip and sensor",
                    ["chip", "sensor", "label"],
                    [chip, sensor, label_text],
                    1.0,
                )
            if kind == "beep_enable":
                value = 1.0 if props.get("") == "1" else 0.0
                out.gauge(
                    "node_hwmon_beep_enabled", "Hardware beep enabled", _LABELS, labels, value
                )
                continue
            if kind == "vrm":
                parsed = _parse_float(props.get(""))
                if parsed is not None:
                    out.gauge(
                        "node_hwmon_voltage_regulator_version",
                        "Hardware voltage regulator",
                        _LABELS,
                        labels,
                        parsed,
                    )
                continue
            if kind == "update_interval":
                parsed = _parse_float(props.get(""))
                if parsed is not None:
                    out.gauge(
                        "node_hwmon_update_interval_seconds",
                        "Hardware monitor update interval",
                        _LABELS,
                        labels,
                        parsed * 0.001,
                    )
                continue
            for element, raw in sorted(props.items()):
                if element == "label":
                    continue
                _sensor_element(out, kind, element, raw, labels, has_bare="" in props)


def _sensor_element(
    out: _Families, kind: str, element: str, raw: str, labels: list[str], has_bare: bool
) -> None:
    name = "node_hwmon_" + kind
    if element == "input":
        if has_bare:
            name += "_input"
    elif element:
        name += "_" + clean_name(element)
    value = _parse_float(raw)
    if value is None:
        return
    if element in ("fault", "alarm"):
        out.gauge(name, f"Hardware sensor {element} status ({kind})", _LABELS, labels, value)
    elif element == "beep":
        out.gauge(
            name + "_enabled", "Hardware monitor sensor has beeping enabled", _LABELS, labels, value
        )
    elif kind in ("in", "cpu"):
        out.gauge(
            name + "_volts",
            f"Hardware monitor for voltage ({element})",
            _LABELS,
            labels,
            value * 0.001,
        )
    elif kind == "temp" and element != "type":
        shown = element or "input"
        out.gauge(
            name + "_celsius",
            f"Hardware monitor for temperature ({shown})",
            _LABELS,
            labels,
            value * 0.001,
        )
    elif kind == "curr":
        out.gauge(
            name + "_amps",
            f"Hardware monitor for current ({element})",
            _LABELS,
            labels,
            value * 0.001,
        )
    elif kind == "energy":
        out.counter(
            name + "_joule_total",
            f"Hardware monitor for joules used so far ({element})",
            _LABELS,
            labels,
            value / 1e6,
        )
    elif kind == "power" and element == "accuracy":
        out.gauge(
            name, "Hardware monitor power meter accuracy, as a ratio", _LABELS, labels, value / 1e6
        )
    elif kind == "power" and element in (
        "average_interval",
        "average_interval_min",
        "average_interval_max",
    ):
        out.gauge(
            name + "_seconds",
            f"Hardware monitor power usage update interval ({element})",
            _LABELS,
            labels,
            value * 0.001,
        )
    elif kind == "power":
        out.gauge(
            name + "_watt",
            f"Hardware monitor for power usage in watts ({element})",
            _LABELS,
            labels,
            value / 1e6,
        )
    elif kind == "humidity":
        out.gauge(
            name,
            "Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity "
            f"as a percentage) ({element})",
            _LABELS,
            labels,
            value / 1e6,
        )
    elif kind == "fan" and element in ("input", "min", "max", "target"):
        out.gauge(
            name + "_rpm",
            f"Hardware monitor for fan revolutions per minute ({element})",
            _LABELS,
            labels,
            value,
        )
    else:
        out.gauge(name, f"Hardware monitor {kind} element {element}", _LABELS, labels, value)


def _collect_sensor_data(directory: str, data: dict[str, dict[str, str]]) -> None:
    for filename in sorted(os.listdir(directory)):
        exploded = explode_sensor_filename(filename)
        if exploded is None or exploded[0] not in _SENSOR_TYPES:
            continue
        kind, number, prop = exploded
        value = _read_value(os.path.join(directory, filename))
        if value is not None:
            data.setdefault(f"{kind}{number}", {})[prop] = value


def _chip_name(chip_dir: str) -> str:
    """A stable chip name: the device's bus type and name, else the `name` file, else hwmonN."""
    device = os.path.join(chip_dir, "device")
    if os.path.exists(device):
        real = os.path.realpath(device)
        prefix, dev_name = os.path.split(real)
        dev_type = os.path.basename(prefix.rstrip("/"))
        clean_dev, clean_type = clean_name(dev_name), clean_name(dev_type)
        if clean_type and clean_dev:
            return clean_type + "_" + clean_dev
        if clean_dev:
            return clean_dev
    name = _read_value(os.path.join(chip_dir, "name"))
    if name and clean_name(name):
        return clean_name(name)
    return clean_name(os.path.basename(os.path.realpath(chip_dir)))


class _Families:
    """Families by name in first-seen order: one hwmon family spans every chip and sensor."""

    def __init__(self) -> None:
        self._families: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}

    def gauge(
        self, name: str, help_text: str, label_names: list[str], labels: list[str], value: float
    ) -> None:
        family = self._families.get(name)
        if family is None:
            family = self._families[name] = GaugeMetricFamily(name, help_text, labels=label_names)
        family.add_metric(labels, value)

    def counter(
        self, name: str, help_text: str, label_names: list[str], labels: list[str], value: float
    ) -> None:
        family = self._families.get(name)
        if family is None:
            family = self._families[name] = CounterMetricFamily(name, help_text, labels=label_names)
        family.add_metric(labels, value)

    def families(self) -> list[Metric]:
        return list(self._families.values())
