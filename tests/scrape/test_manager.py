"""The scrape manager on a manual clock: schedule offsets, targets that go away, file_sd and
http_sd with broken sources, and reloads that keep what did not change."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from vigil.config.prometheus import Config, parse_config
from vigil.model.clock import ManualClock
from vigil.scrape.manager import ScrapeManager

from .fakes import START, Exporters, FakeStorage, render, run_until, settle


def config(text: str, tmp_path: Path) -> Config:
    return parse_config(text, str(tmp_path / "prometheus.yml"))


def scenario(
    body: Callable[[ScrapeManager, ManualClock, Exporters, FakeStorage], Awaitable[None]],
) -> None:
    async def main() -> None:
        clock = ManualClock(START)
        exporters, storage = Exporters(), FakeStorage()
        manager = ScrapeManager(
            storage.appender, clock=clock, transport=exporters.transport(), file_poll_interval=5
        )
        try:
            await body(manager, clock, exporters, storage)
        finally:
            await manager.stop()

    asyncio.run(main())


def test_first_scrape_at_the_targets_offset_then_every_interval(tmp_path: Path) -> None:
    cfg = config(
        "scrape_configs: [{job_name: j, scrape_interval: 10s, "
        "static_configs: [{targets: ['a:1', 'b:2']}]}]",
        tmp_path,
    )

    async def body(
        manager: ScrapeManager, clock: ManualClock, exporters: Exporters, storage: FakeStorage
    ) -> None:
        exporters["a:1"].body = exporters["b:2"].body = b"x 1\n"
        await manager.apply(cfg)
        await run_until(clock, START + 30)
        times: dict[str, list[int]] = {}
        for sample in storage.samples():
            if sample.labels.get("__name__") == "up":
                times.setdefault(sample.labels.get("instance"), []).append(sample.t_ms)
        for target in manager.active_targets()["j"]:
            offset = target.offset(10_000)
            first = int(START * 1000) - int(START * 1000) % 10_000 + offset
            if first < START * 1000:
                first += 10_000
            want = [
                first + k * 10_000 for k in range(3) if first + k * 10_000 <= START * 1000 + 30_000
            ]
            assert times[target.labels.get("instance")] == want
        assert len({t[0] for t in times.values()}) == 2  # spread, not scraped together

    scenario(body)


def test_a_target_that_goes_away_has_all_its_series_marked_stale(tmp_path: Path) -> None:
    sd = tmp_path / "targets.json"
    sd.write_text(json.dumps([{"targets": ["a:1", "b:2"]}]))
    cfg = config(
        "scrape_configs: [{job_name: j, scrape_interval: 10s, "
        f"file_sd_configs: [{{files: ['{sd}']}}]}}]",
        tmp_path,
    )

    async def body(
        manager: ScrapeManager, clock: ManualClock, exporters: Exporters, storage: FakeStorage
    ) -> None:
        exporters["a:1"].body = b"x 1\n"
        exporters["b:2"].body = b'y{k="v"} 2\nz 3\n'
        await manager.apply(cfg)
        await run_until(clock, START + 10)
        (b,) = [t for t in manager.active_targets()["j"] if t.labels.get("instance") == "b:2"]
        assert b.health == "up"
        sd.write_text(json.dumps([{"targets": ["a:1"]}]))
        await run_until(clock, START + 15)  # the next mtime poll sees the change
        assert [t.labels.get("instance") for t in manager.active_targets()["j"]] == ["a:1"]
        last_b = max(s.t_ms for s in storage.samples() if s.labels.get("instance") == "b:2")
        await run_until(clock, START + 60)
        after = [
            s for s in storage.samples() if s.labels.get("instance") == "b:2" and s.t_ms > last_b
        ]
        # stale at the time the next scrape of b would have been, written 2.1 intervals on
        assert render(after) == {
            'y{instance="b:2",job="j",k="v"}': "stale",
            'z{instance="b:2",job="j"}': "stale",
            'up{instance="b:2",job="j"}': "stale",
            'scrape_duration_seconds{instance="b:2",job="j"}': "stale",
            'scrape_samples_scraped{instance="b:2",job="j"}': "stale",
            'scrape_samples_post_metric_relabeling{instance="b:2",job="j"}': "stale",
            'scrape_series_added{instance="b:2",job="j"}': "stale",
        }
        assert {s.t_ms for s in after} == {last_b + 10_000}

    scenario(body)


def test_a_broken_sd_file_keeps_the_last_good_targets(tmp_path: Path) -> None:
    sd = tmp_path / "targets.yml"
    sd.write_text("- targets: ['a:1']\n  labels: {team: x}\n")
    cfg = config(
        "scrape_configs: [{job_name: j, scrape_interval: 10s, "
        f"file_sd_configs: [{{files: ['{tmp_path}/*.yml']}}]}}]",
        tmp_path,
    )

    def instances(manager: ScrapeManager) -> list[tuple[str, str]]:
        return sorted(
            (t.labels.get("instance"), t.labels.get("team")) for t in manager.active_targets()["j"]
        )

    async def body(
        manager: ScrapeManager, clock: ManualClock, exporters: Exporters, storage: FakeStorage
    ) -> None:
        await manager.apply(cfg)
        assert instances(manager) == [("a:1", "x")]
        (target,) = manager.active_targets()["j"]
        assert target.discovered_labels.get("__meta_filepath") == str(sd)
        sd.write_text("- targets: ['a:1', 'b:2']\n  labels: {team: [x}\n")
        await run_until(clock, START + 5)
        assert instances(manager) == [("a:1", "x")]
        (error,) = manager.errors()
        assert error.startswith(f"file_sd: {sd}:2: ") and "invalid YAML" in error, error
        sd.write_text("- targets: ['a:1', 'b:2']\n  labels: {team: y}\n")
        await run_until(clock, START + 10)
        assert instances(manager) == [("a:1", "y"), ("b:2", "y")]
        assert manager.errors() == []
        sd.unlink()
        await run_until(clock, START + 15)
        assert instances(manager) == []

    scenario(body)


def test_http_sd_keeps_the_last_good_list_when_the_endpoint_fails(tmp_path: Path) -> None:
    cfg = config(
        "scrape_configs: [{job_name: j, scrape_interval: 10s, "
        "http_sd_configs: [{url: 'http://sd:8080/targets', refresh_interval: 30s}]}]",
        tmp_path,
    )

    async def body(
        manager: ScrapeManager, clock: ManualClock, exporters: Exporters, storage: FakeStorage
    ) -> None:
        sd = exporters["sd:8080"]
        sd.content_type = "application/json"
        sd.body = json.dumps([{"targets": ["a:1"], "labels": {"dc": "x"}}]).encode()
        await manager.apply(cfg)
        await settle()
        (target,) = manager.active_targets()["j"]
        assert target.labels.get("dc") == "x"
        assert target.discovered_labels.get("__meta_url") == "http://sd:8080/targets"
        assert sd.requests[0].headers["X-Prometheus-Refresh-Interval-Seconds"] == "30"
        sd.status = 500
        await run_until(clock, START + 30)
        assert [t.labels.get("instance") for t in manager.active_targets()["j"]] == ["a:1"]
        assert manager.errors() == [
            "http_sd http://sd:8080/targets: server returned HTTP status 500 Internal Server Error"
        ]
        sd.status, sd.body = 200, b"[{]"
        await run_until(clock, START + 60)
        assert [t.labels.get("instance") for t in manager.active_targets()["j"]] == ["a:1"]
        (error,) = manager.errors()
        assert "http://sd:8080/targets:1: invalid JSON" in error, error

    scenario(body)


def test_reload_keeps_unchanged_jobs_and_the_caches_of_surviving_targets(tmp_path: Path) -> None:
    before = config(
        "scrape_configs:\n"
        "  - {job_name: same, scrape_interval: 10s, static_configs: [{targets: ['a:1']}]}\n"
        "  - {job_name: limits, scrape_interval: 10s, static_configs: [{targets: ['b:2']}]}\n"
        "  - {job_name: relabel, scrape_interval: 10s, static_configs: [{targets: ['c:3']}]}\n"
        "  - {job_name: gone, scrape_interval: 10s, static_configs: [{targets: ['d:4']}]}\n",
        tmp_path,
    )
    after = config(
        "scrape_configs:\n"
        "  - {job_name: same, scrape_interval: 10s, static_configs: [{targets: ['a:1']}]}\n"
        "  - {job_name: limits, scrape_interval: 10s, sample_limit: 100,"
        " static_configs: [{targets: ['b:2']}]}\n"
        "  - {job_name: relabel, scrape_interval: 10s, static_configs: [{targets: ['c:3']}],"
        " metric_relabel_configs: [{source_labels: [__name__], regex: y, action: drop}]}\n",
        tmp_path,
    )

    async def body(
        manager: ScrapeManager, clock: ManualClock, exporters: Exporters, storage: FakeStorage
    ) -> None:
        for address in ("a:1", "b:2", "c:3", "d:4"):
            exporters[address].body = b"x 1\ny 2\n"
        await manager.apply(before)
        await run_until(clock, START + 10)
        loops = {loop.target.scrape_pool: loop for loop in manager.loops()}
        await manager.apply(after)
        await settle()
        now = {loop.target.scrape_pool: loop for loop in manager.loops()}
        assert sorted(now) == ["limits", "relabel", "same"]
        assert now["same"] is loops["same"]
        assert now["limits"] is not loops["limits"]
        assert now["limits"].state is loops["limits"].state  # same series rules: cache kept
        assert now["relabel"].state.refs == {}  # new series rules: cache rebuilt...
        assert now["relabel"].target.health == "up"  # ...the target's last outcome kept
        mark = len(storage.commits)
        await run_until(clock, START + 20)
        relabel_commits = [
            render(c) for c in storage.commits[mark:] if any("c:3" in str(s.labels) for s in c)
        ]
        (commit,) = relabel_commits
        assert commit['y{instance="c:3",job="relabel"}'] == "stale"  # dropped now: stale once
        assert 'x{instance="c:3",job="relabel"}' in commit

    scenario(body)


def test_stop_writes_no_staleness_markers(tmp_path: Path) -> None:
    cfg = config(
        "scrape_configs: [{job_name: j, scrape_interval: 10s, static_configs: [{targets: ['a:1']}]}]",
        tmp_path,
    )

    async def body(
        manager: ScrapeManager, clock: ManualClock, exporters: Exporters, storage: FakeStorage
    ) -> None:
        exporters["a:1"].body = b"x 1\n"
        await manager.apply(cfg)
        await run_until(clock, START + 10)
        commits = len(storage.commits)
        await manager.stop()
        await run_until(clock, START + 60)
        assert len(storage.commits) == commits

    scenario(body)


def test_unreachable_target_is_down_with_the_reason(tmp_path: Path) -> None:
    cfg = config(
        "scrape_configs: [{job_name: j, scrape_interval: 10s, static_configs: [{targets: ['nowhere:1']}]}]",
        tmp_path,
    )

    async def body(
        manager: ScrapeManager, clock: ManualClock, exporters: Exporters, storage: FakeStorage
    ) -> None:
        await manager.apply(cfg)
        await run_until(clock, START + 25)
        (target,) = manager.active_targets()["j"]
        assert target.health == "down"
        assert target.outcome is not None
        assert "connection refused" in target.outcome.error
        ups = [s.value for s in storage.samples() if s.labels.get("__name__") == "up"]
        assert ups == [0.0, 0.0]

    scenario(body)


def test_the_manager_builds_clients_for_auth(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cret\n")
    cfg = config(
        "scrape_configs: [{job_name: j, scrape_interval: 10s,"
        f" authorization: {{credentials_file: '{secret}'}},"
        " static_configs: [{targets: ['a:1']}]}]",
        tmp_path,
    )

    async def body(
        manager: ScrapeManager, clock: ManualClock, exporters: Exporters, storage: FakeStorage
    ) -> None:
        exporters["a:1"].body = b"x 1\n"
        await manager.apply(cfg)
        await run_until(clock, START + 10)
        request: httpx.Request = exporters["a:1"].requests[0]
        assert request.headers["Authorization"] == "Bearer s3cret"

    scenario(body)


def test_target_limit_fails_every_target_of_the_job(tmp_path: Path) -> None:
    cfg = config(
        "scrape_configs: [{job_name: j, scrape_interval: 10s, target_limit: 1,"
        " static_configs: [{targets: ['a:1', 'b:2']}]}]",
        tmp_path,
    )

    async def body(
        manager: ScrapeManager, clock: ManualClock, exporters: Exporters, storage: FakeStorage
    ) -> None:
        exporters["a:1"].body = exporters["b:2"].body = b"x 1\n"
        await manager.apply(cfg)
        await run_until(clock, START + 10)
        assert {t.outcome.error for t in manager.active_targets()["j"] if t.outcome} == {
            "target_limit exceeded (number of targets: 2, limit: 1)"
        }
        assert exporters["a:1"].requests == exporters["b:2"].requests == []
        assert {s.value for s in storage.samples() if s.labels.get("__name__") == "up"} == {0.0}

    scenario(body)
