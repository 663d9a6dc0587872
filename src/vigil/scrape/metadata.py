"""What the scrape loops last saw of each metric family (type, help, unit): the source of the
metadata API and of the metadata remote_write sends."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from vigil.scrape.manager import ScrapePool

MetadataSource = Callable[[], Iterable[tuple[str, str, str, str]]]
"""(metric family name, type as in the text format, help, unit) of what is scraped now."""


def scrape_metadata(pools: Callable[[], Iterable[ScrapePool]]) -> MetadataSource:
    """The metadata source of `vigil server`: what the scrape loops last saw, per family."""

    def source() -> Iterable[tuple[str, str, str, str]]:
        for pool in pools():
            for target in pool.targets():
                for name, meta in target.metadata.items():
                    yield name, str(meta.type), meta.help or "", meta.unit or ""

    return source
