"""Field and attribute names (`service.name`, `http.route`, `k8s-pod`) as label names, as Loki
normalises OTLP attribute names: every character a label name cannot hold becomes `_`, and a
name starting with a digit is prefixed with `key_`."""

from __future__ import annotations

import re

_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def label_name(key: str) -> str:
    name = _INVALID.sub("_", key)
    return f"key_{name}" if name[:1].isdigit() else name
