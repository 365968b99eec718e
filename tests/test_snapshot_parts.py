"""A snapshot spliced from kept and redrawn targets is byte for byte a full render."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporters.collector import CheckRow, ForecastRow, IndicatorInfo, SnapshotData
from exporters.escalation_metrics import EscalationData
from exporters.snapshot import Snapshot, read_snapshot_data, render
from exporters.snapshot_parts import SnapshotParts, draw, grouped, runs
from exporters.snapshot_scope import merged
from kpiwatch import app, bulletin_board
from kpiwatch.config import Config, load_config
from kpiwatch.report import collect
from kpiwatch.service import Service
from tests.checks_helpers import CONFIG, pipeline
from tests.test_target_status import target

NAMES = st.text(st.sampled_from('ab"\\\n é区'), min_size=1, max_size=3)
VALUES = st.none() | st.floats(-1e12, 1e12, allow_nan=False) | st.sampled_from([0.0, -0.0])
HORIZONS = ("dekad", "month", "quarter", "year")
STATUSES = st.sampled_from(["on_track", "at_risk", "behind", "no_data"])


def _check(draw_: st.DrawFn, key: tuple[str, str], horizon: str, kind: str, year: int) -> CheckRow:
    values = [draw_(VALUES) for _ in range(6)]
    status, stale, pace, owner = (
        draw_(STATUSES),
        draw_(st.booleans()),
        draw_(STATUSES),
        draw_(NAMES),
    )
    end, due = draw_(VALUES), draw_(VALUES)
    return CheckRow(*key, horizon, kind, *values, status, stale, year, end, pace, owner, due)


@st.composite
def target_rows(draw_: st.DrawFn, key: tuple[str, str]) -> tuple[list[CheckRow], list[ForecastRow]]:
    """One version of a target's checks and forecasts."""
    kind = draw_(st.sampled_from(["flow", "growth", "stock", ""]))
    year = draw_(st.sampled_from([2026, 2027]))
    horizons = draw_(st.lists(st.sampled_from(HORIZONS), unique=True).map(sorted))
    checks = [_check(draw_, key, h, kind, year) for h in horizons]
    interval = st.floats(-1e6, 1e6, allow_nan=False)
    forecasts = [
        ForecastRow(
            *key, h, *(draw_(interval) for _ in range(5)), draw_(VALUES), year, kind, draw_(VALUES)
        )
        for h in draw_(st.lists(st.sampled_from(["quarter", "year"]), unique=True).map(sorted))
    ]
    return checks, forecasts


@st.composite
def snapshots(draw_: st.DrawFn) -> list[SnapshotData]:
    """A sequence of snapshots over a few targets, each target absent, kept or changed."""
    keys = sorted(draw_(st.lists(st.tuples(NAMES, NAMES), min_size=1, max_size=6, unique=True)))
    versions = {k: draw_(st.lists(target_rows(k), min_size=1, max_size=2)) for k in keys}
    out = []
    for _ in range(draw_(st.integers(1, 4))):
        chosen = {k: draw_(st.sampled_from([None, *v])) for k, v in versions.items()}
        present = [(k, v) for k, v in chosen.items() if v is not None]
        ends = [(*k, draw_(st.sampled_from([1.7e9, 1.8e9]))) for k, _ in present]
        info = [
            IndicatorInfo(i, draw_(NAMES), "%", "flow", "") for i in sorted({k[0] for k in keys})
        ]
        levels = [(*k, "unit", draw_(st.integers(0, 3))) for k, _ in present]
        out.append(
            SnapshotData(
                [c for _, (checks, _) in present for c in checks],
                info,
                draw_(st.sampled_from([ends, ends[1:]])),
                [f for _, (_, forecasts) in present for f in forecasts],
                escalations=EscalationData(levels),
            )
        )
    return out


def assert_same(spliced: Snapshot, full: Snapshot) -> None:
    assert spliced.text == full.text
    assert spliced.openmetrics == full.openmetrics
    assert (spliced.series, spliced.dropped) == (full.series, full.dropped)


def splice(parts: SnapshotParts, data: SnapshotData, max_series: int) -> Snapshot:
    todo, job = parts.job(data, max_series, 0.0)
    return parts.snapshot(todo, draw(job))


def test_a_value_turned_negative_zero_is_spliced_as_the_full_render() -> None:
    """-0.0 equals 0.0, so a kept target's lines stand for it: both must print alike."""
    info = [IndicatorInfo("fai", "投资", "%", "flow", "")]
    parts = SnapshotParts()
    for zero in (0.0, -0.0, 0.0):
        row = ForecastRow(
            "fai", "a", "year", zero, zero, zero, zero, zero, zero, 2026, "growth", zero
        )
        data = SnapshotData([], info, [], [row])
        spliced, full = splice(parts, data, 10**6), render(data, 0.0, 10**6)
        assert_same(spliced, full)
        assert b"-0" not in full.text


@settings(deadline=None, max_examples=60)
@given(snapshots(), st.sampled_from([10**6, 60, 0]))
def test_each_snapshot_of_a_sequence_is_the_full_render(
    sequence: Sequence[SnapshotData], max_series: int
) -> None:
    parts = SnapshotParts()
    for data in sequence:
        assert_same(splice(parts, data, max_series), render(data, 0.0, max_series))


def test_only_the_changed_targets_are_drawn_again() -> None:
    rows = [
        CheckRow("x", f"r{i}", "year", "flow", 1.0, 1.0, 2.0, 1.0, 0.0, None, "behind", False)
        for i in range(5)
    ]
    data = SnapshotData(rows, [], [("x", f"r{i}", 1.7e9) for i in range(5)])
    parts = SnapshotParts()
    splice(parts, data, 10**6)
    changed = dataclasses.replace(rows[3], actual=2.0)
    later = dataclasses.replace(data, checks=[*rows[:3], changed, rows[4]])
    todo, job = parts.job(later, 10**6, 0.0)
    assert [key for key, _ in job.targets] == [("x", "r3")] and not job.others
    assert_same(parts.snapshot(todo, draw(job)), render(later, 0.0, 10**6))


def test_rows_of_a_target_that_are_not_together_are_refused() -> None:
    row = CheckRow("x", "r", "year", "flow", 1.0, 1.0, 2.0, 1.0, 0.0, None, "behind", False)
    other = dataclasses.replace(row, region="s")
    with pytest.raises(ValueError, match="not contiguous"):
        runs([row, other, row])


def _release(config: Config, name: str, rows: str, today: date) -> None:
    (config.store_path.parent / "drops" / name).write_text(
        "period,region,indicator,measure,value\n" + rows, encoding="utf-8"
    )
    outcomes = app.ingest(config)
    assert all(o.error is None for o in outcomes), [str(o.error) for o in outcomes]
    app.refresh_checks(config, today)


def _both(config: Config, parts: SnapshotParts, today: date) -> tuple[Snapshot, Snapshot]:
    con = duckdb.connect(str(config.store_path), read_only=True)
    try:
        data = read_snapshot_data(con, today)
    finally:
        con.close()
    return splice(parts, data, 10**6), render(data, 0.0, 10**6)


RELEASES = [
    ("2026-03", "2026年1-2月,zone_a,projects_started,ytd,40\n2026年1-2月,CN,energy,value,9\n"),
    (
        "2026-04",
        "2026年3月,zone_a,projects_started,ytd,70\n2026年3月,zone_b,projects_started,ytd,5\n",
    ),
    ("2026-05", "2026年一季度,CN,gdp_growth,ytd_yoy_pct,6.1\n2026年3月,CN,energy,value,11\n"),
    ("2026-06", "2026年3月,zone_a,projects_started,ytd,72\n"),  # a revision
]


def test_releases_into_a_store_splice_the_full_render(tmp_path: Path) -> None:
    targets = "".join(
        target(i, r, 120)
        for i, r in [("projects_started", "zone_a"), ("projects_started", "zone_b"),
                     ("gdp_growth", "CN"), ("energy", "CN")]
    )  # fmt: skip
    (tmp_path / "drops").mkdir()
    text = CONFIG.replace('path = "data.csv"', 'path = "drops/*.csv"') + targets
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    config, parts = load_config(tmp_path / "config.toml"), SnapshotParts()
    for n, (month, rows) in enumerate(RELEASES):
        today = date.fromisoformat(month + "-20")
        _release(config, f"release{n}.csv", rows, today)
        spliced, full = _both(config, parts, today)
        assert_same(spliced, full)
    check = subprocess.run(
        ["promtool", "check", "metrics"], input=spliced.text, capture_output=True, check=False
    )
    assert check.returncode == 0, check.stderr
    assert (
        b'region="zone_b"' in spliced.text and b"kpiwatch_kpi_growth_actual_ratio" in spliced.text
    )


def test_a_refresh_serves_its_snapshot_before_reading_the_bulletin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a big store the bulletin takes longer to read than the refresh: /metrics must
    not wait for it (the first refresh excepted: the service is ready once it is done)."""
    config = pipeline(tmp_path, RELEASES[0][1], target("projects_started", "zone_a", 120))
    service = Service(config, date(2026, 3, 20))
    seen: list[bytes] = []

    def reading(*args: Any) -> Any:
        seen.append(service.holder.exposition().text)
        return collect(*args)

    monkeypatch.setattr(bulletin_board, "collect", reading)
    try:
        assert service.refresh()
        with (tmp_path / "data.csv").open("a", encoding="utf-8") as fh:
            fh.write("2026年3月,zone_a,projects_started,ytd,77\n")
        assert service.refresh()
    finally:
        service.close()
    release = b'kpiwatch_kpi_actual{horizon="year",indicator="projects_started",region="zone_a",'
    assert release + b'year="2026"} 77.0' in seen[1]


def _served_is_full(service: Service) -> None:
    """The service serves what a full read and a full render of its store give."""
    config = service.config
    con = duckdb.connect(str(config.store_path), read_only=True)
    try:
        data = read_snapshot_data(con, service.today)
    finally:
        con.close()
    served = service.holder.get()
    assert served is not None
    assert_same(served, render(data, 0.0, config.server.max_series))


def _drop(config: Config, name: str, rows: str) -> None:
    (config.store_path.parent / "drops" / name).write_text(
        "period,region,indicator,measure,value\n" + rows, encoding="utf-8"
    )


def test_a_refresh_reads_again_only_the_targets_it_touched(tmp_path: Path) -> None:
    pairs = [("projects_started", "zone_a"), ("projects_started", "zone_b"),
             ("gdp_growth", "CN"), ("energy", "CN")]  # fmt: skip
    (tmp_path / "drops").mkdir()
    text = CONFIG.replace('path = "data.csv"', 'path = "drops/*.csv"')
    (tmp_path / "config.toml").write_text(
        text + "".join(target(i, r, 120) for i, r in pairs), encoding="utf-8"
    )
    config = load_config(tmp_path / "config.toml")
    _drop(config, "r0.csv", RELEASES[0][1] + "2026年1-2月,zone_b,projects_started,ytd,3\n")
    service = Service(config, date(2026, 3, 20), tmp_path / "config.toml")
    try:
        assert service.refresh() and service.snapshots.scoped is None  # the first reads all
        _served_is_full(service)
        # a release of one series: its region family is read again, nothing else
        _drop(config, "r1.csv", "2026年3月,zone_b,projects_started,ytd,5\n")
        assert service.refresh()
        assert service.snapshots.scoped == {
            ("projects_started", r) for r in ("west_coast", "zone_a", "zone_b")
        }
        _served_is_full(service)
        # a day passes without data: energy's March figure is late, judged on every target
        service.today = date(2026, 4, 30)
        assert service.refresh() and service.snapshots.scoped is None
        _served_is_full(service)
        assert b'kpiwatch_kpi_stale{horizon="year",indicator="energy",region="CN"' in (
            service.holder.exposition().text
        )
        # a refresh run by hand between two of the service's: the service reads all again
        _drop(config, "r2.csv", "2026年3月,CN,energy,value,11\n")
        app.ingest(config)
        app.refresh(config, date(2026, 4, 30))
        assert service.refresh()
        _served_is_full(service)
        assert service.snapshots.scoped is None
        # one target's config changed: its series are read again; an indicator's: all
        (tmp_path / "config.toml").write_text(
            text + "".join(target(i, r, 90 if i == "energy" else 120) for i, r in pairs),
            encoding="utf-8",
        )
        assert service.reload() is None and service.refresh()
        assert service.snapshots.scoped == {("energy", "CN")}
        text = text.replace('owner = "发展改革局"', 'owner = "统计局"')
        (tmp_path / "config.toml").write_text(
            text + "".join(target(i, r, 120) for i, r in pairs), encoding="utf-8"
        )
        assert service.reload() is None and service.refresh()
        assert service.snapshots.scoped is None
        _served_is_full(service)
    finally:
        service.close()


@settings(deadline=None, max_examples=60)
@given(snapshots(), st.sampled_from([10**6, 60, 0]), st.data())
def test_a_scoped_read_merged_into_the_last_splices_the_full_render(
    sequence: Sequence[SnapshotData], max_series: int, extra: st.DataObject
) -> None:
    """Each snapshot as a scoped read of the targets whose rows changed (and a few more)
    merged into the last: the same data as a full read, spliced as a full render."""
    parts, last = SnapshotParts(), sequence[0]
    splice(parts, last, max_series)
    for data in sequence[1:]:
        before, now = grouped(last)[0], grouped(data)[0]
        changed = {k for k in before.keys() | now.keys() if before.get(k) != now.get(k)}
        keys = sorted(before | now)
        more = extra.draw(st.sets(st.sampled_from(keys))) if keys else set()
        read = frozenset(changed | more)
        fresh = _only(data, read)
        assert merged(last, fresh, read) == _lists(data)
        todo, job = parts.job(data, max_series, 0.0, (fresh, read))
        assert_same(parts.snapshot(todo, draw(job)), render(data, 0.0, max_series))
        last = data


def _only(data: SnapshotData, read: frozenset[tuple[str, str]]) -> SnapshotData:
    return dataclasses.replace(
        data,
        checks=[c for c in data.checks if (c.indicator, c.region) in read],
        data_end=[e for e in data.data_end if (e[0], e[1]) in read],
        forecasts=[f for f in data.forecasts if (f.indicator, f.region) in read],
    )


def _lists(data: SnapshotData) -> SnapshotData:
    return dataclasses.replace(
        data, checks=list(data.checks), data_end=list(data.data_end), forecasts=list(data.forecasts)
    )
