"""OTLP metrics in: the receiver Prometheus 3 serves on `/api/v1/otlp/v1/metrics`, its
translation of OpenTelemetry names and data points, and its request bodies."""

from vigil.remote.otlp.receiver import DISABLED_MESSAGE, PATH, OTLPReceiver, OTLPSettings

__all__ = ["DISABLED_MESSAGE", "PATH", "OTLPReceiver", "OTLPSettings"]
