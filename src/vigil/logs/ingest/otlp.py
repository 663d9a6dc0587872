"""OTLP logs (`ExportLogsServiceRequest`, protobuf or OTLP/JSON) mapped as Loki 3 maps them:
the well-known resource attributes become stream labels (`.` and other characters a label
name cannot hold become `_`), every other resource attribute, the scope, the record's
attributes and its fields (severity, trace and span ids, flags) become structured metadata;
the body is the line. Nested map attributes are flattened (`a.b` → `a_b`), other values
written as the OpenTelemetry collector's `AsString` writes them. Also the
`ExportLogsServiceResponse` OTLP/HTTP answers with."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import orjson

from vigil.logs.ingest.batch import IngestRejected, Push, PushBatch
from vigil.logs.ingest.discovery import SERVICE_NAME, UNKNOWN_SERVICE, Discovery
from vigil.logs.ingest.label_names import label_name
from vigil.model import Labels
from vigil.remote.otlp.translate import as_string

if TYPE_CHECKING:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

INDEX_LABELS = frozenset(
    {
        "cloud.availability_zone",
        "cloud.region",
        "container.name",
        "deployment.environment",
        "deployment.environment.name",
        "k8s.cluster.name",
        "k8s.container.name",
        "k8s.cronjob.name",
        "k8s.daemonset.name",
        "k8s.deployment.name",
        "k8s.job.name",
        "k8s.namespace.name",
        "k8s.pod.name",
        "k8s.replicaset.name",
        "k8s.statefulset.name",
        "service.instance.id",
        "service.name",
        "service.namespace",
    }
)
"""Loki's default `default_resource_attributes_as_index_labels`."""

_ID_FIELDS = ("traceId", "spanId", "trace_id", "span_id")


def decode(raw: bytes, kind: str, discovery: Discovery, now_ns: Callable[[], int]) -> Push:
    """Records without a time take their observed time, else `now_ns()`, as Loki does."""
    request = _request(raw, kind)
    batch = PushBatch(discovery)
    for resource_logs in request.resource_logs:
        labels: dict[str, str] = {}
        resource_meta: dict[str, str] = {}
        for kv in resource_logs.resource.attributes:
            if kv.key in INDEX_LABELS:
                labels[label_name(kv.key)] = as_string(kv.value)
            else:
                _flatten(kv.key, kv.value, resource_meta)
        labels.setdefault(SERVICE_NAME, UNKNOWN_SERVICE)  # OTLP requires service.name
        stream = Labels.from_dict({k: v for k, v in labels.items() if v})
        for scope_logs in resource_logs.scope_logs:
            scope_meta = dict(resource_meta)
            scope = scope_logs.scope
            for key, value in (("scope_name", scope.name), ("scope_version", scope.version)):
                if value:
                    scope_meta[key] = value
            _attributes(scope.attributes, scope_meta)
            if scope.dropped_attributes_count:
                scope_meta["scope_dropped_attributes_count"] = str(scope.dropped_attributes_count)
            stamps, lines, metadata = [], [], []
            for record in scope_logs.log_records:
                stamps.append(record.time_unix_nano or record.observed_time_unix_nano or now_ns())
                lines.append(as_string(record.body).encode())
                meta = dict(scope_meta)
                _attributes(record.attributes, meta)
                meta.update(_record_fields(record))
                metadata.append(Labels.from_dict({k: v for k, v in meta.items() if v}))
            batch.add_stream(stream, stamps, lines, metadata)
    return batch.push()


def _record_fields(record: Any) -> dict[str, str]:
    fields = {}
    if record.observed_time_unix_nano:
        fields["observed_timestamp"] = str(record.observed_time_unix_nano)
    if record.severity_number:
        fields["severity_number"] = str(record.severity_number)
    if record.severity_text:
        fields["severity_text"] = record.severity_text
    if record.dropped_attributes_count:
        fields["dropped_attributes_count"] = str(record.dropped_attributes_count)
    if record.flags:
        fields["flags"] = str(record.flags)
    if record.trace_id.strip(b"\0"):
        fields["trace_id"] = record.trace_id.hex()
    if record.span_id.strip(b"\0"):
        fields["span_id"] = record.span_id.hex()
    return fields


def _attributes(attributes: Iterable[KeyValue], into: dict[str, str]) -> None:
    for kv in attributes:
        _flatten(kv.key, kv.value, into)


def _flatten(key: str, value: AnyValue, into: dict[str, str]) -> None:
    if value.WhichOneof("value") == "kvlist_value":
        for kv in value.kvlist_value.values:
            _flatten(f"{key}_{kv.key}", kv.value, into)
        return
    into[label_name(key)] = as_string(value)


def _request(raw: bytes, kind: str) -> ExportLogsServiceRequest:
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    request = ExportLogsServiceRequest()
    if kind == PROTOBUF:
        try:
            request.ParseFromString(raw)
        except DecodeError as err:
            raise IngestRejected(
                400,
                "body is not a valid ExportLogsServiceRequest protobuf (truncated, corrupt or "
                f"not UTF-8): {err}",
            ) from None
        return request
    try:
        document = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as err:
        raise IngestRejected(400, f"body is not valid UTF-8 JSON: {err}") from None
    if not isinstance(document, dict):
        raise IngestRejected(400, "body is not an OTLP/JSON ExportLogsServiceRequest object")
    _ids_as_base64(document)
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except json_format.ParseError as err:
        raise IngestRejected(
            400, f"body is not a valid OTLP/JSON ExportLogsServiceRequest: {err}"
        ) from None
    return request


def encode_response(kind: str, rejected_records: int, message: str) -> bytes:
    """An ExportLogsServiceResponse in the request's encoding; `partial_success` says how many
    log records were not stored and why."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
        ExportLogsServiceResponse,
    )

    response = ExportLogsServiceResponse()
    if rejected_records or message:
        response.partial_success.rejected_log_records = rejected_records
        response.partial_success.error_message = message
    if kind == PROTOBUF:
        return response.SerializeToString()
    return json_format.MessageToJson(response, indent=None).encode()


def _ids_as_base64(document: dict[str, Any]) -> None:
    """OTLP/JSON writes trace and span ids in hex, where protobuf's JSON mapping expects
    base64 (and would silently misread many hex ids as base64): convert them first."""
    for resource_logs in _objects(document, "resourceLogs", "resource_logs"):
        for scope_logs in _objects(resource_logs, "scopeLogs", "scope_logs"):
            for record in _objects(scope_logs, "logRecords", "log_records"):
                for field in _ID_FIELDS:
                    value = record.get(field)
                    if value is None or value == "":
                        continue
                    try:
                        record[field] = base64.b64encode(bytes.fromhex(value)).decode()
                    except (TypeError, ValueError, binascii.Error):
                        raise IngestRejected(
                            400, f"{field} {value!r} is not a hex string (OTLP/JSON ids are hex)"
                        ) from None


def _objects(parent: Any, *names: str) -> list[dict[str, Any]]:
    if not isinstance(parent, dict):
        return []
    for name in names:
        found = parent.get(name)
        if isinstance(found, list):
            return [item for item in found if isinstance(item, dict)]
    return []
