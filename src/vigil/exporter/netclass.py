"""Network interface properties from /sys/class/net/<iface> (link state, MTU, speed, carrier
changes, addresses), as node_exporter 1.5's netclass collector reads them through procfs' sysfs."""

from __future__ import annotations

import errno
import os

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from vigil.exporter._collector import NoDataError
from vigil.exporter._options import HostPaths
from vigil.model.regex import Anchor, Regex

# Reading these means "no such property here" (procfs skips them): the file is absent, the
# driver does not implement it (EOPNOTSUPP) or the link is down (carrier, speed: EINVAL).
_ABSENT = frozenset(
    {errno.ENOENT, errno.EACCES, errno.EPERM, errno.EOPNOTSUPP, errno.EINVAL, errno.EISDIR}
)
_INT64 = range(-(2**63), 2**63)

# (sysfs attribute, metric suffix, counter?) in node_exporter's order; speed is handled apart.
_NUMBERS = (
    ("addr_assign_type", "address_assign_type", False),
    ("carrier", "carrier", False),
    ("carrier_changes", "carrier_changes_total", True),
    ("carrier_up_count", "carrier_up_changes_total", True),
    ("carrier_down_count", "carrier_down_changes_total", True),
    ("dev_id", "device_id", False),
    ("dormant", "dormant", False),
    ("flags", "flags", False),
    ("ifindex", "iface_id", False),
    ("iflink", "iface_link", False),
    ("link_mode", "iface_link_mode", False),
    ("mtu", "mtu_bytes", False),
    ("name_assign_type", "name_assign_type", False),
    ("netdev_group", "net_dev_group", False),
    ("tx_queue_len", "transmit_queue_length", False),
    ("type", "protocol_type", False),
)
_INFO = ("address", "broadcast", "duplex", "operstate", "ifalias")


def read_attribute(name: str, directory_fd: int) -> bytes | None:
    """One read of a sysfs attribute (procfs' SysReadFile: at most 4 KiB, whitespace trimmed),
    opened relative to its interface's directory; None when the attribute does not apply to
    this interface."""
    try:
        fd = os.open(name, os.O_RDONLY, dir_fd=directory_fd)
    except OSError as err:
        if err.errno in _ABSENT:
            return None
        raise
    try:
        return os.read(fd, 4096).strip()
    except OSError as err:
        if err.errno in _ABSENT:
            return None
        raise
    finally:
        os.close(fd)


def go_int(text: bytes) -> int:
    """Go's `strconv.ParseInt(text, 0, 64)` as procfs' ValueParser uses it: decimal, 0x/0o/0b
    prefixes, a leading 0 for octal, and 0 for anything Go refuses (a value procfs cannot parse
    is reported as 0, not left out)."""
    try:
        value = int(text, 0)
    except ValueError:
        digits = text.lstrip(b"+-")
        if not (len(digits) > 1 and digits.startswith(b"0") and digits.isdigit()):
            return 0
        try:
            value = int(text, 8)
        except ValueError:
            return 0
    return value if value in _INT64 else 0


def speed_bytes(megabits: int) -> int:
    """Go's `int64(speed * 1000 * 1000 / 8)`: integer division truncating toward zero."""
    bits = megabits * 1_000_000
    return -(-bits // 8) if bits < 0 else bits // 8


class NetclassCollector:
    name = "netclass"

    def __init__(
        self, paths: HostPaths, ignored_devices: str, ignore_invalid_speed: bool = False
    ) -> None:
        self._dir = paths.sys("class", "net")
        self._ignored = Regex(ignored_devices, Anchor.SEARCH) if ignored_devices else None
        self._ignore_invalid_speed = ignore_invalid_speed

    def _devices(self) -> list[str]:
        try:
            with os.scandir(self._dir) as entries:
                names = [
                    entry.name for entry in entries if not entry.is_file(follow_symlinks=False)
                ]
        except (FileNotFoundError, PermissionError) as err:
            raise NoDataError(f"cannot read {self._dir}: {err.strerror}") from None
        return sorted(n for n in names if not (self._ignored and self._ignored.matches(n)))

    def collect(self) -> list[Metric]:
        up = GaugeMetricFamily(
            "node_network_up", "Value is 1 if operstate is 'up', 0 otherwise.", labels=["device"]
        )
        info = GaugeMetricFamily(
            "node_network_info",
            "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
            labels=["device", *_INFO],
        )
        numbers = {
            attribute: (CounterMetricFamily if counter else GaugeMetricFamily)(
                f"node_network_{suffix}", f"Network device property: {suffix}", labels=["device"]
            )
            for attribute, suffix, counter in _NUMBERS
        }
        speed = GaugeMetricFamily(
            "node_network_speed_bytes", "Network device property: speed_bytes", labels=["device"]
        )
        for device in self._devices():
            try:
                # The interface's directory opened once: its ~22 attributes are opened from it
                # without the kernel walking /sys/class/net/<device> again for each.
                directory = os.open(os.path.join(self._dir, device), os.O_RDONLY | os.O_DIRECTORY)
            except (FileNotFoundError, NotADirectoryError):  # gone since the listing
                continue
            try:
                texts = [read_attribute(name, directory) or b"" for name in _INFO]
                up.add_metric([device], 1.0 if texts[3] == b"up" else 0.0)
                info.add_metric([device, *(t.decode("utf-8", "replace") for t in texts)], 1.0)
                for attribute, family in numbers.items():
                    value = self._number(directory, attribute)
                    if value is not None:
                        family.add_metric([device], float(value))
                megabits = self._number(directory, "speed")
            finally:
                os.close(directory)
            if megabits is not None and (megabits >= 0 or not self._ignore_invalid_speed):
                speed.add_metric([device], float(speed_bytes(megabits)))
        families: list[Metric] = [up, info, *numbers.values(), speed]
        return [family for family in families if family.samples]

    @staticmethod
    def _number(directory: int, attribute: str) -> int | None:
        text = read_attribute(attribute, directory)
        return None if text is None else go_int(text)
