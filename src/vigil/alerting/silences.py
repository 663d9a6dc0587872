"""Silences with Alertmanager 0.25's semantics: a silence is pending, active or expired by the
clock; changing what an active silence mutes (its matchers or its start) never rewrites
history but expires it and creates a new one; expired silences are kept for `retention`
after they end, then garbage collected. The state is snapshotted to a versioned file."""

from __future__ import annotations

import enum
import logging
import math
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from vigil.alerting._snapshot import Record, read_snapshot, write_snapshot
from vigil.alerting.marker import Marker
from vigil.model.alert import fingerprint
from vigil.model.clock import Clock
from vigil.model.labels import Labels, json_quote
from vigil.model.matchers import Matcher, MatchType, matches_all
from vigil.model.regex import Anchor, Regex, RegexError

DEFAULT_RETENTION = 120 * 3600.0
"""Alertmanager's `--data.retention` default (120 h)."""

log = logging.getLogger(__name__)
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_SNAPSHOT_KIND = "silences"


class SilenceState(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Silence:
    """A silence as the API shows it; times are seconds since the epoch (0.0 = unset).

    `id` is empty for a silence not stored yet; `set` assigns a UUID.
    """

    id: str = ""
    matchers: tuple[Matcher, ...] = ()
    starts_at: float = 0.0
    ends_at: float = 0.0
    updated_at: float = 0.0
    created_by: str = ""
    comment: str = ""

    def state(self, now: float) -> SilenceState:
        """Alertmanager's `getState`: pending before the start, expired strictly after the end."""
        if now < self.starts_at:
            return SilenceState.PENDING
        if now > self.ends_at:
            return SilenceState.EXPIRED
        return SilenceState.ACTIVE

    def matches(self, labels: Labels) -> bool:
        return matches_all(self.matchers, labels)


class SilenceError(ValueError):
    """A silence that cannot be stored; the message is Alertmanager's."""


class SilenceNotFound(LookupError):
    def __init__(self, silence_id: str) -> None:
        super().__init__("silence not found")
        self.silence_id = silence_id


def check_postable(silence: Silence, now: float) -> None:
    """The checks Alertmanager's API v2 makes before `set` (`POST /api/v2/silences`)."""
    if silence.starts_at >= silence.ends_at:
        raise SilenceError("Failed to create silence: start time must be before end time")
    if silence.ends_at < now:
        raise SilenceError("Failed to create silence: end time can't be in the past")


class Silences:
    """The silence store, and the silencer: `mutes(labels)` also records in the marker which
    silences mute the alert (Alertmanager's `Silencer`)."""

    def __init__(
        self, clock: Clock, marker: Marker | None = None, retention: float = DEFAULT_RETENTION
    ) -> None:
        self._clock = clock
        self._marker = marker if marker is not None else Marker()
        self._retention = retention
        self._silences: dict[str, Silence] = {}
        # Silences by one of their `name="value"` matchers (matchers never change under an
        # id), so finding those that may mute an alert looks at its label pairs, not at
        # every silence; silences without such a matcher are always candidates.
        self._by_pair: dict[tuple[str, str], dict[str, None]] = {}
        self._unindexed: dict[str, None] = {}
        # Bumped whenever a silence id appears; markers remember the version they were
        # computed at, so alerts no silence could newly match skip the full query.
        self._version = 1

    @property
    def version(self) -> int:
        return self._version

    def set(self, silence: Silence) -> str:
        """Create a silence (empty id) or update one; returns the id it is stored under.

        An update that would change history (other matchers, a moved start of an active
        silence, an end in the past, anything on an expired one) expires the old silence
        and stores the change under a new id, as Alertmanager does.
        """
        now = self._clock.now()
        if silence.starts_at == 0.0:
            silence = replace(silence, starts_at=now)
        prev = self._silences.get(silence.id) if silence.id else None
        if silence.id and prev is None:
            raise SilenceNotFound(silence.id)
        if prev is not None and _can_update(prev, silence, now):
            updated = replace(silence, updated_at=now)
            _validate(updated)
            self._silences[updated.id] = updated
            return updated.id
        created = replace(
            silence,
            id=str(uuid.uuid4()),
            starts_at=max(silence.starts_at, now),
            updated_at=now,
        )
        _validate(created)
        if prev is not None and prev.state(now) is not SilenceState.EXPIRED:
            self._expire(prev, now)
        self._silences[created.id] = created
        self._index(created)
        self._version += 1
        return created.id

    def expire(self, silence_id: str) -> None:
        """End a silence now (a pending one never starts); expiring an expired one is a no-op."""
        silence = self._silences.get(silence_id)
        if silence is None:
            raise SilenceNotFound(silence_id)
        self._expire(silence, self._clock.now())

    def _expire(self, silence: Silence, now: float) -> None:
        state = silence.state(now)
        if state is SilenceState.EXPIRED:
            return
        starts_at = now if state is SilenceState.PENDING else silence.starts_at
        self._silences[silence.id] = replace(
            silence, starts_at=starts_at, ends_at=now, updated_at=now
        )

    def get(self, silence_id: str) -> Silence:
        silence = self._silences.get(silence_id)
        if silence is None:
            raise SilenceNotFound(silence_id)
        return silence

    def query(
        self,
        *,
        ids: Iterable[str] | None = None,
        labels: Labels | None = None,
        states: Iterable[SilenceState] | None = None,
    ) -> list[Silence]:
        """Silences with one of `ids`, muting `labels`, in one of `states` (None: any); in
        no particular order."""
        now = self._clock.now()
        if ids is None and labels is not None:
            base: Iterable[Silence] = self._candidates(labels)
        elif ids is None:
            base = self._silences.values()
        else:
            base = (self._silences[i] for i in ids if i in self._silences)
        wanted = None if states is None else frozenset(states)
        values = None if labels is None else dict(labels)
        return [
            silence
            for silence in base
            if (wanted is None or silence.state(now) in wanted)
            and (values is None or all(m.matches(values.get(m.name, "")) for m in silence.matchers))
        ]

    def count(self, state: SilenceState) -> int:
        """For `alertmanager_silences{state=...}`."""
        now = self._clock.now()
        return sum(1 for silence in self._silences.values() if silence.state(now) is state)

    def mutes(self, labels: Labels, fp: int | None = None) -> bool:
        """Whether an active silence matches `labels`; records active and pending silence ids
        (sorted) in the marker, or clears them when none applies."""
        if fp is None:
            fp = fingerprint(labels)
        status = self._marker.status(fp)
        now = self._clock.now()
        if status.silences_version == self._version:
            known = status.silenced_by + status.pending_silences
            if not known:
                return False
            candidates = self.query(ids=known)
        else:
            candidates = self.query(labels=labels)
        active = sorted(s.id for s in candidates if s.state(now) is SilenceState.ACTIVE)
        pending = sorted(s.id for s in candidates if s.state(now) is SilenceState.PENDING)
        self._marker.set_silenced(fp, active, pending=pending, version=self._version)
        return bool(active)

    def gc(self) -> int:
        """Drop silences that ended `retention` ago or longer; returns how many."""
        now = self._clock.now()
        doomed = [s.id for s in self._silences.values() if s.ends_at + self._retention <= now]
        for silence_id in doomed:
            self._unindex(self._silences.pop(silence_id))
        return len(doomed)

    def snapshot(self, path: str) -> int:
        """Write every silence to `path` atomically; returns the size in bytes."""
        return write_snapshot(path, _SNAPSHOT_KIND, map(_to_json, self._silences.values()))

    def load(self, path: str) -> bool:
        """Replace the state with the snapshot at `path`; False when there is no such file.
        A damaged file raises SnapshotError and is left untouched."""
        records = read_snapshot(path, _SNAPSHOT_KIND)
        if records is None:
            return False
        silences = []
        for record in records:
            try:
                silences.append(_from_json(record))
            except _RefusedRegex as err:
                log.warning("%s: silence dropped: %s", path, err)
        self._silences = {silence.id: silence for silence in silences}
        self._by_pair = {}
        self._unindexed = {}
        for silence in silences:
            self._index(silence)
        self._version += 1
        return True

    def _index(self, silence: Silence) -> None:
        pair = _index_pair(silence)
        bucket = self._unindexed if pair is None else self._by_pair.setdefault(pair, {})
        bucket[silence.id] = None

    def _unindex(self, silence: Silence) -> None:
        pair = _index_pair(silence)
        if pair is None:
            del self._unindexed[silence.id]
            return
        bucket = self._by_pair[pair]
        del bucket[silence.id]
        if not bucket:
            del self._by_pair[pair]

    def _candidates(self, labels: Labels) -> list[Silence]:
        """Every silence that could match `labels` (and a few that do not)."""
        ids = list(self._unindexed)
        for pair in labels:
            bucket = self._by_pair.get(pair)
            if bucket:
                ids.extend(bucket)
        return [self._silences[i] for i in ids]


def _index_pair(silence: Silence) -> tuple[str, str] | None:
    """A `name="value"` (value not empty) the silence requires of every alert it mutes."""
    for matcher in silence.matchers:
        if matcher.type is MatchType.EQUAL and matcher.value:
            return (matcher.name, matcher.value)
    return None


def _can_update(old: Silence, new: Silence, now: float) -> bool:
    """Alertmanager's `canUpdate`: may `old` become `new` without rewriting what it muted?"""
    if old.matchers != new.matchers:
        return False
    state = old.state(now)
    if state is SilenceState.ACTIVE:
        return math.floor(new.starts_at) == math.floor(old.starts_at) and new.ends_at >= now
    if state is SilenceState.PENDING:
        return new.starts_at >= now
    return False


def _validate(silence: Silence) -> None:
    """Alertmanager's `validateSilence`, with its messages."""
    problem = _problem(silence)
    if problem:
        raise SilenceError(f"silence invalid: {problem}")


def _problem(silence: Silence) -> str:
    if not silence.matchers:
        return "at least one matcher required"
    all_match_empty = True
    for index, matcher in enumerate(silence.matchers):
        problem = _matcher_problem(matcher)
        if problem:
            return f"invalid label matcher {index}: {problem}"
        all_match_empty = all_match_empty and _matches_empty(matcher)
    if all_match_empty:
        return "at least one matcher must not match the empty string"
    if silence.starts_at == 0.0:
        return "invalid zero start timestamp"
    if silence.ends_at == 0.0:
        return "invalid zero end timestamp"
    if silence.ends_at < silence.starts_at:
        return "end time must not be before start time"
    return ""


def _matcher_problem(matcher: Matcher) -> str:
    if not _LABEL_NAME.match(matcher.name):
        return f"invalid label name {json_quote(matcher.name)}"
    if matcher.type in (MatchType.REGEX, MatchType.NOT_REGEX):
        try:
            Regex(matcher.value, Anchor.ALERTMANAGER)
        except RegexError as err:
            return f"invalid regular expression {json_quote(matcher.value)}: {err}"
    else:
        try:
            matcher.value.encode()
        except UnicodeEncodeError:
            return f"invalid label value {json_quote(matcher.value)}"
    return ""


def _matches_empty(matcher: Matcher) -> bool:
    """Alertmanager only counts `=` and `=~` matchers here; `!=`/`!~` never "match empty"."""
    if matcher.type is MatchType.EQUAL:
        return matcher.value == ""
    if matcher.type is MatchType.REGEX:
        return matcher.matches("")
    return False


def _to_json(silence: Silence) -> dict[str, Any]:
    return {
        "id": silence.id,
        "matchers": [
            {"name": m.name, "type": m.type.value, "value": m.value} for m in silence.matchers
        ],
        "starts_at": silence.starts_at,
        "ends_at": silence.ends_at,
        "updated_at": silence.updated_at,
        "created_by": silence.created_by,
        "comment": silence.comment,
    }


class _RefusedRegex(Exception):
    """A stored silence whose regex RE2 refuses (kept by a vigil that checked with Python's
    `re`): it is dropped with a warning, not allowed to stop the others from loading."""


def _from_json(record: Record) -> Silence:
    matchers = []
    for item in record.records("matchers"):
        op = item.text("type")
        try:
            matchers.append(
                Matcher.of(item.text("name"), op, item.text("value"), Anchor.ALERTMANAGER)
            )
        except ValueError as err:
            if op in (MatchType.REGEX, MatchType.NOT_REGEX):
                raise _RefusedRegex(f"{record.text('id')}: {err}") from None
            raise item.error("type" if op not in _OPS else "value", str(err)) from None
    silence = Silence(
        id=record.text("id"),
        matchers=tuple(matchers),
        starts_at=record.number("starts_at"),
        ends_at=record.number("ends_at"),
        updated_at=record.number("updated_at"),
        created_by=record.text("created_by"),
        comment=record.text("comment"),
    )
    if not silence.id:
        raise record.error("id", "empty")
    return silence


_OPS = frozenset(t.value for t in MatchType)
