"""The rule manager: loads the config's rule files, runs each group on its own slotted
interval on an injectable clock, restores `for` state after a restart from ALERTS_FOR_STATE,
and swaps groups on reload (unchanged rules keep their alerts)."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from vigil.config.prometheus import Config
from vigil.model import METRIC_NAME, Labels, Matcher
from vigil.model.clock import Clock
from vigil.promql.engine import Queryable
from vigil.rules.alerting import (
    ALERT_NAME_LABEL,
    ALERTS_FOR_STATE_METRIC,
    Alert,
    AlertingRule,
    TemplateContext,
)
from vigil.rules.group import Appendable, Group, GroupOptions, RuleMetrics
from vigil.rules.query import QueryFunc, check_logql
from vigil.rules.rulefile import (
    ExprCheck,
    TemplateCheck,
    check_promql,
    load_rule_file,
    template_problem,
)
from vigil.tsdb._api import is_stale_marker

log = logging.getLogger("vigil.rules")


@dataclass(frozen=True, slots=True)
class RuleManagerOptions:
    """Prometheus's `--rules.alert.for-outage-tolerance` and `--rules.alert.for-grace-period`."""

    for_outage_tolerance_ms: int = 3_600_000
    for_grace_period_ms: int = 600_000


def expand_rule_files(patterns: Sequence[str]) -> list[str]:
    """rule_files entries are globs (`rules/*.yml`); each pattern's matches in sorted order."""
    files: list[str] = []
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]:
            if path not in files:
                files.append(path)
    return files


def restore_for_state(
    group: Group, t_ms: int, queryable: Queryable, options: RuleManagerOptions
) -> None:
    """Prometheus's RestoreForState: an alert pending when the server stopped resumes its
    countdown (shifted by the downtime, or at least `for_grace_period` from now)."""
    mint = t_ms - options.for_outage_tolerance_ms
    querier = queryable(mint, t_ms)
    try:
        for rule in group.alerting_rules():
            if rule.hold_ms < options.for_grace_period_ms:
                rule.restored = True
                continue
            matchers = [
                Matcher.of(METRIC_NAME, "=", ALERTS_FOR_STATE_METRIC),
                Matcher.of(ALERT_NAME_LABEL, "=", rule.name),
                *(Matcher.of(k, "=", v) for k, v in rule.labels if "{{" not in v),
            ]
            last: dict[Labels, tuple[int, float, bool]] = {}
            for series in querier.select(matchers):
                if len(series.timestamps) == 0:
                    continue
                stale = bool(is_stale_marker(series.values[-1:])[0])
                last[series.labels.without(METRIC_NAME)] = (
                    int(series.timestamps[-1]),
                    float(series.values[-1]),
                    stale,
                )
            for alert in rule.active_alerts():
                _restore_alert(rule, alert, last, t_ms, options)
            rule.restored = True
    finally:
        querier.close()


def _restore_alert(
    rule: AlertingRule,
    alert: Alert,
    last: dict[Labels, tuple[int, float, bool]],
    t_ms: int,
    options: RuleManagerOptions,
) -> None:
    found = last.get(alert.labels)
    if found is None or found[2]:
        return
    down_ms = found[0] // 1000 * 1000
    active_at_ms = int(found[1]) * 1000
    remaining = rule.hold_ms - (down_ms - active_at_ms)
    if 0 < remaining < options.for_grace_period_ms:
        active_at_ms = t_ms + options.for_grace_period_ms - rule.hold_ms
    elif remaining > 0:
        active_at_ms += t_ms - down_ms
    rule.restore_active_at(alert.labels, active_at_ms)


def _checked_by_tests(_: str) -> None:
    """The expressions of the files vigil ships, which its tests parse."""


def _templates_checked_by_tests(_: str, __: str) -> None:
    """The label and annotation templates of the files vigil ships, which its tests parse."""


class RuleManager:
    """Owns the running groups; `apply(config)` on start and on every reload."""

    def __init__(
        self,
        query: QueryFunc,
        appendable: Appendable,
        queryable: Queryable,
        clock: Clock,
        registry: CollectorRegistry | None = None,
        options: RuleManagerOptions = RuleManagerOptions(),
        external_url: str = "",
        notify: Callable[[Group, int], None] | None = None,
        offload: Callable[[Callable[[], None]], Awaitable[None]] | None = None,
        log_query: QueryFunc | None = None,
        log_rule_files: Sequence[str] = (),
        packaged_log_rule_files: Sequence[str] = (),
        packaged_rule_files: Sequence[str] = (),
    ) -> None:
        """`notify(group, t_ms)` runs after each evaluation (the notifier's hand-over);
        `offload` runs an evaluation off the event loop (a worker thread by default, so a
        big group never stalls scrapes or the API; tests on a manual clock run it inline).
        `log_rule_files` (globs) are Loki-ruler files: their LogQL runs through `log_query`,
        the rest of their life (for, labels, annotations, notifications) is any rule's.
        `packaged_log_rule_files` are such files shipped with vigil (the default pack), whose
        LogQL the project's tests parse: loading them does not parse it again, so a server
        imports LogQL's parser with its first log query rather than at start.
        `packaged_rule_files` are the PromQL files shipped with vigil, loaded after the
        config's own; their expressions and templates, like those of the packaged log rules,
        are parsed by the project's tests and not again at each start (the engine parses an
        expression at its first evaluation, the template engine is imported when an alert
        first expands one)."""
        self._query = query
        self._log_query = log_query
        self._log_rule_files = tuple(log_rule_files)
        self._packaged_log_rule_files = tuple(packaged_log_rule_files)
        self._packaged_rule_files = tuple(packaged_rule_files)
        self._appendable = appendable
        self._queryable = queryable
        self._clock = clock
        self._metrics = RuleMetrics(registry) if registry is not None else None
        self._options = options
        self._external_url = external_url
        self._notify = notify
        self._offload = offload if offload is not None else asyncio.to_thread
        self._groups: dict[str, Group] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._restored = False

    def groups(self) -> list[Group]:
        return list(self._groups.values())

    def log_groups(self) -> list[Group]:
        """The groups of Loki-ruler files (what Loki's ruler API lists)."""
        if self._log_query is None:
            return []
        return [group for group in self._groups.values() if group.query is self._log_query]

    def load(self, config: Config) -> list[Group]:
        """Build the groups of `config`'s rule files; raises RuleFileError (a ConfigError)."""
        global_config = config.global_config
        options = GroupOptions(
            interval_ms=global_config.evaluation_interval.milliseconds,
            query_offset_ms=global_config.rule_query_offset.milliseconds,
            context=TemplateContext(global_config.external_labels, self._external_url),
        )
        packaged = _templates_checked_by_tests
        languages: list[tuple[Sequence[str], ExprCheck, TemplateCheck, QueryFunc]] = [
            (config.rule_files, check_promql, template_problem, self._query),
            (self._packaged_rule_files, _checked_by_tests, packaged, self._query),
        ]
        if self._log_query is not None:
            log_query = self._log_query
            languages.append((self._log_rule_files, check_logql, template_problem, log_query))
            languages.append(
                (self._packaged_log_rule_files, _checked_by_tests, packaged, log_query)
            )
        groups: list[Group] = []
        for files, check, templates, query in languages:
            for path in expand_rule_files(files):
                for spec in load_rule_file(path, check=check, templates=templates).groups:
                    groups.append(
                        Group(
                            spec,
                            options,
                            query,
                            self._appendable,
                            self._metrics,
                            restored=self._restored,
                        )
                    )
        return groups

    async def apply(self, config: Config) -> None:
        """Load `config`'s rules and run them; on failure the running groups stay untouched."""
        self.replace(self.load(config))

    def replace(self, groups: Sequence[Group]) -> None:
        """Swap in `groups`: unchanged ones keep state, removed ones mark their series stale."""
        should_restore = not self._restored
        new = {group.key: group for group in groups}
        for key, old in list(self._groups.items()):
            task = self._tasks.pop(key, None)
            if task is not None:
                task.cancel()
            replacement = new.get(key)
            if replacement is not None:
                replacement.copy_state_from(old)
            else:
                old.mark_all_stale(int(self._clock.now() * 1000))
                if self._metrics is not None:
                    self._metrics.forget(key)
        self._groups = new
        self._restored = True
        loop = asyncio.get_running_loop()
        for key, group in new.items():
            self._tasks[key] = loop.create_task(self._run(group, should_restore))

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, group: Group, should_restore: bool) -> None:
        """Prometheus's Group.run: first evaluation at the next slot, then one per interval;
        ticks that came too late count as missed iterations."""
        interval_ns = group.interval_ms * 1_000_000
        eval_ns = group.eval_timestamp_ns(self._now_ns()) + interval_ns
        await self._clock.sleep_until(eval_ns / 1e9)
        await self._iterate(group, eval_ns)
        if should_restore:
            eval_ns = await self._next_slot(group, eval_ns, interval_ns)
            await self._iterate(group, eval_ns)
            restore_for_state(group, self._now_ns() // 1_000_000, self._queryable, self._options)
        while True:
            eval_ns = await self._next_slot(group, eval_ns, interval_ns)
            await self._iterate(group, eval_ns)

    async def _next_slot(self, group: Group, eval_ns: int, interval_ns: int) -> int:
        await self._clock.sleep_until((eval_ns + interval_ns) / 1e9)
        missed = (self._now_ns() - eval_ns) // interval_ns - 1
        if missed > 0 and self._metrics is not None:
            self._metrics.iterations_missed.labels(group.key).inc(missed)
            self._metrics.iterations.labels(group.key).inc(missed)
        return eval_ns + (max(missed, 0) + 1) * interval_ns

    async def _iterate(self, group: Group, eval_ns: int) -> None:
        if self._metrics is not None:
            self._metrics.iterations.labels(group.key).inc()
        t_ms = eval_ns // 1_000_000
        await self._offload(lambda: group.evaluate(t_ms))
        if self._notify is not None:
            self._notify(group, eval_ns // 1_000_000)

    def _now_ns(self) -> int:
        return int(self._clock.now() * 1e9)


def active_alerts(groups: Sequence[Group]) -> list[tuple[AlertingRule, Alert]]:
    """Every pending or firing alert, with its rule (what /api/v1/alerts lists)."""
    return [
        (rule, alert)
        for group in groups
        for rule in group.alerting_rules()
        for alert in rule.active_alerts()
    ]
