"""What a scraper knows of the protobuf exposition format before a body arrives: its media
type and what to keep of its histograms. The decoder (`protobuf`) loads protobuf's runtime,
so it is imported only by a scrape whose target answers in protobuf."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vigil.exposition.scan import ScrapeBatch

MEDIA_TYPE = "application/vnd.google.protobuf"
CONTENT_TYPE = (
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
)


@dataclass(frozen=True, slots=True)
class HistogramChoice:
    """What to keep of histogram messages: native histograms (`scrape_native_histograms`),
    and then also their classic buckets (`always_scrape_classic_histograms`)."""

    native: bool = False
    classic_too: bool = False


def scan_protobuf(body: bytes, choice: HistogramChoice) -> ScrapeBatch:
    """Read a delimited protobuf body (`protobuf.scan_protobuf`, loaded by the first call);
    raises ProtobufError."""
    from vigil.exposition.protobuf import scan_protobuf as scan

    return scan(body, choice)
