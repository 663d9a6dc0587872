"""Inhibition with Alertmanager 0.25's semantics: a firing alert matching a rule's source
matchers mutes alerts matching its target matchers when both carry the same values for the
rule's `equal` labels (a missing label equals the empty value).

Two refinements from Alertmanager: a resolved source alert inhibits nothing, and when the
muted candidate matches the source side too, source alerts that also match the target side
are ignored, so that an alert matching both sides never mutes itself (nor its peers)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from vigil.alerting.marker import Marker
from vigil.config.alertmanager import InhibitRule
from vigil.model.alert import Alert, fingerprint
from vigil.model.clock import Clock, SystemClock
from vigil.model.labels import Labels
from vigil.model.matchers import matches_all

GC_INTERVAL = 15 * 60.0
"""How often Alertmanager drops resolved alerts from a rule's source cache."""
_SIDES_CACHE_SIZE = 1 << 18

_Sources = dict[int, Alert]
"""A rule's source alerts with the same `equal` label values, by fingerprint."""


@dataclass(slots=True)
class _Rule:
    """One rule and the source alerts it has seen, indexed by their `equal` label values so
    that deciding for one target costs a dict lookup, not a scan of every source alert."""

    config: InhibitRule
    sources: dict[tuple[str, ...], _Sources] = field(default_factory=dict)

    def key(self, labels: Labels) -> tuple[str, ...]:
        return tuple(labels.get(name) for name in self.config.equal)

    def inhibitor(self, key: tuple[str, ...], exclude_two_sided: bool, now: float) -> int | None:
        """The fingerprint of a firing source alert inhibiting labels whose `equal` label
        values are `key`, if any."""
        for fp, alert in self.sources.get(key, {}).items():
            if alert.resolved_at(now):
                continue
            if exclude_two_sided and matches_all(self.config.target_matchers, alert.labels):
                continue
            return fp
        return None


class Inhibitor:
    """Alertmanager's inhibitor; fed every stored alert via `observe`, it answers `mutes` and
    records `inhibited_by` in the marker."""

    def __init__(
        self, rules: Iterable[InhibitRule], marker: Marker, clock: Clock | None = None
    ) -> None:
        self._rules = [_Rule(rule) for rule in rules]
        self._marker = marker
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._last_gc = 0.0
        # By fingerprint: the label set, and the `sources` entries of the rules whose source
        # side it matches (senders resend the same label sets); cleared when an entry goes.
        self._sides: dict[int, tuple[Labels, tuple[_Sources, ...]]] = {}
        # By fingerprint: the label set, and the rules whose target side it matches, each
        # with whether it matches the source side too and its `equal` label values.
        self._targets: dict[
            int, tuple[Labels, tuple[tuple[_Rule, bool, tuple[str, ...]], ...]]
        ] = {}

    def observe(self, alert: Alert, now: float | None = None) -> None:
        """Take in a new or updated alert; `now` defaults to the clock's."""
        self.observe_all((alert,), now)

    def observe_all(self, alerts: Iterable[Alert], now: float | None = None) -> None:
        """Take in new or updated alerts (subscribe this to the store's batches)."""
        if now is None:
            now = self._clock.now()
        if self._rules:
            sides = self._sides
            for alert in alerts:
                fp = alert.fingerprint
                labels = alert.labels
                cached = sides.get(fp)
                if cached is None or (cached[0] is not labels and cached[0] != labels):
                    if len(sides) >= _SIDES_CACHE_SIZE:
                        sides.clear()
                    cached = sides[fp] = (labels, self._source_entries(labels))
                for entry in cached[1]:
                    entry[fp] = alert
        if now - self._last_gc >= GC_INTERVAL:
            self.gc(now)

    def _source_entries(self, labels: Labels) -> tuple[_Sources, ...]:
        entries = []
        for rule in self._rules:
            if matches_all(rule.config.source_matchers, labels):
                entries.append(rule.sources.setdefault(rule.key(labels), {}))
        return tuple(entries)

    def forget(self, fp: int) -> None:
        """Drop an alert the store no longer holds."""
        for rule in self._rules:
            for key, alerts in list(rule.sources.items()):
                if alerts.pop(fp, None) is not None and not alerts:
                    del rule.sources[key]
                    self._sides.clear()

    def gc(self, now: float) -> int:
        """Drop source alerts resolved at `now`; returns how many were dropped."""
        self._last_gc = now
        dropped = 0
        for rule in self._rules:
            for key, alerts in list(rule.sources.items()):
                for fp in [fp for fp, alert in alerts.items() if alert.resolved_at(now)]:
                    del alerts[fp]
                    dropped += 1
                if not alerts:
                    del rule.sources[key]
                    self._sides.clear()
        return dropped

    def mutes(self, labels: Labels, fp: int | None = None) -> bool:
        """Whether a firing source alert of some rule inhibits `labels` now."""
        if fp is None:
            fp = fingerprint(labels)
        cached = self._targets.get(fp)
        if cached is None or (cached[0] is not labels and cached[0] != labels):
            if len(self._targets) >= _SIDES_CACHE_SIZE:
                self._targets.clear()
            cached = self._targets[fp] = (labels, self._target_rules(labels))
        by: tuple[str, ...] = ()
        if cached[1]:
            now = self._clock.now()
            for rule, two_sided, key in cached[1]:
                source = rule.inhibitor(key, two_sided, now)
                if source is not None:
                    by = (f"{source:016x}",)
                    break
        self._marker.set_inhibited(fp, by)
        return bool(by)

    def _target_rules(self, labels: Labels) -> tuple[tuple[_Rule, bool, tuple[str, ...]], ...]:
        return tuple(
            (rule, matches_all(rule.config.source_matchers, labels), rule.key(labels))
            for rule in self._rules
            if matches_all(rule.config.target_matchers, labels)
        )
