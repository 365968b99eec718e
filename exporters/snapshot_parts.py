"""Incremental snapshots: each target's series drawn once and kept until its rows change.

A full render draws every series of every target (indicator × region); after a release
only a few targets' rows differ. The other targets' sample lines are kept, byte for byte
as prometheus_client drew them, and spliced under their families' HELP and TYPE lines in
the order a full render gives (snapshot.render): the checks' families in the order they
first appear, then the forecasts', each family's samples target by target; then the
indicators' info, the data ends, and the small collectors, drawn whole every time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import chain
from typing import TypeVar

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import Collector

from exporters.collector import (
    HELP,
    CheckRow,
    ForecastRow,
    KpiCollector,
    P,
    SnapshotData,
    check_samples,
    forecast_samples,
    label_names,
)
from exporters.snapshot import OM_EOF, Snapshot, other_collectors, within_limit

Key = tuple[str, str]  # indicator, region
Row = TypeVar("Row", CheckRow, ForecastRow)
Sample = tuple[str, list[str], float]
END = P + "data_period_end_timestamp_seconds"
BATCH = 2000  # targets drawn per exposition call: bounds the worker's memory


@dataclass(frozen=True)
class TargetRows:
    """What one target exports: its checks, its forecasts and the end of its data."""

    checks: tuple[CheckRow, ...] = ()
    forecasts: tuple[ForecastRow, ...] = ()
    end: float | None = None


@dataclass(frozen=True)
class TargetParts:
    """One target's sample lines, family by family, in both exposition formats."""

    families: tuple[str, ...]  # the checks' families, then the forecasts', then END
    split: int  # how many of them are the checks'
    text: tuple[bytes, ...]
    openmetrics: tuple[bytes, ...]


@dataclass(frozen=True)
class Job:
    """What the render worker draws: the changed targets, and the rest of the data."""

    targets: list[tuple[Key, TargetRows]]
    rest: SnapshotData  # info, units, projects, escalations, nowcasts; no per-target rows
    others: bool = True  # draw the units', projects', escalations' and nowcasts' families


@dataclass(frozen=True)
class Drawn:
    """The worker's drawing: the targets' parts, their families' headers, the rest."""

    parts: list[tuple[Key, TargetParts]]
    headers: dict[str, tuple[bytes, bytes]]  # family: (text, OpenMetrics) HELP/TYPE lines
    info: tuple[bytes, bytes]  # the info family, then the data ends' header
    others: tuple[bytes, bytes] | None  # the units', projects', escalations', nowcasts'


@dataclass(frozen=True)
class Pending:
    """A snapshot waiting for its drawing: the kept targets' rows, in each family's order."""

    rows: dict[Key, TargetRows]
    checks: tuple[Key, ...]  # targets in the order of their checks
    forecasts: tuple[Key, ...]
    ends: tuple[Key, ...]
    known: dict[Key, tuple[TargetRows, int]]  # every target's rows and series, kept or not
    same: frozenset[Key]  # the targets whose rows the last snapshot had
    data: SnapshotData
    dropped: int
    built_at: float


def runs(rows: Sequence[Row]) -> dict[Key, tuple[Row, ...]]:
    """Rows grouped by target, in order; ValueError when a target's rows are split."""
    out: dict[Key, list[Row]] = {}
    last: Key | None = None
    for row in rows:
        key = (row.indicator, row.region)
        if key != last:
            if key in out:
                raise ValueError(f"the rows of {key} are not contiguous")
            out[key], last = [], key
        out[key].append(row)
    return {key: tuple(group) for key, group in out.items()}


def grouped(data: SnapshotData) -> tuple[dict[Key, TargetRows], tuple[tuple[Key, ...], ...]]:
    """Each target's rows (in the order within_limit counts them), and the targets in the
    order of the checks, of the forecasts and of the data ends."""
    checks, forecasts = runs(data.checks), runs(data.forecasts)
    ends = {(i, r): ts for i, r, ts in data.data_end}
    if len(ends) != len(data.data_end):
        raise ValueError("a target has two data ends")
    rows = {
        key: TargetRows(checks.get(key, ()), forecasts.get(key, ()), ends.get(key))
        for key in chain(checks, forecasts, ends)
    }
    return rows, (tuple(checks), tuple(forecasts), tuple(ends))


def regrouped(
    known: Mapping[Key, tuple[TargetRows, int]], fresh: SnapshotData, read: frozenset[Key]
) -> tuple[dict[Key, TargetRows], tuple[tuple[Key, ...], ...]]:
    """What grouped gives for the data `fresh` (the rows of the targets `read`) was merged
    into (snapshot_scope.merged): the other targets' rows as `known` has them."""
    rows = {key: target for key, (target, _) in known.items() if key not in read}
    rows.update(grouped(fresh)[0])
    keys = sorted(rows)  # a full read gives the targets in order
    checks = tuple(key for key in keys if rows[key].checks)
    forecasts = tuple(key for key in keys if rows[key].forecasts)
    ends = tuple(key for key in keys if rows[key].end is not None)
    return {key: rows[key] for key in chain(checks, forecasts, ends)}, (checks, forecasts, ends)


def series_of(rows: TargetRows) -> int:
    """How many series a target exports."""
    checks = sum(1 for row in rows.checks for _ in check_samples(row))
    forecasts = sum(1 for f in rows.forecasts for _ in forecast_samples(f))
    return checks + forecasts + (rows.end is not None)


def pending(
    data: SnapshotData,
    max_series: int,
    built_at: float,
    known: Mapping[Key, tuple[TargetRows, int]] | None = None,
    others: int | None = None,
    scoped: tuple[SnapshotData, frozenset[Key]] | None = None,
) -> Pending:
    """The rows of every target the snapshot of `data` exports; the series of the targets
    `known` (rows and series of the last snapshot) has unchanged are not counted again;
    `others`: others_series(data), when known; `scoped`: the scoped read `data` was
    merged from, and the targets it read (the others' rows are `known`'s)."""
    if scoped is None or known is None:
        rows, orders = grouped(data)
    else:
        rows, orders = regrouped(known, *scoped)
    now, same = {}, set()
    for key, target in rows.items():
        old = (known or {}).get(key)
        if old is not None and (old[0] is target or old[0] == target):
            now[key] = old
            same.add(key)
        else:
            now[key] = (target, series_of(target))
    sizes = {key: n for key, (_, n) in now.items()}
    kept, dropped = within_limit(data, max_series, sizes, others)
    if kept is not data:  # whole targets left out
        rows, orders = grouped(kept)
    checks, forecasts, ends = orders
    return Pending(rows, checks, forecasts, ends, now, frozenset(same), kept, dropped, built_at)


def draw(job: Job) -> Drawn:
    """Draw the job's targets, BATCH at a time, and the rest whole (in the worker)."""
    parts: list[tuple[Key, TargetParts]] = []
    headers: dict[str, tuple[bytes, bytes]] = {}
    for start in range(0, len(job.targets), BATCH):
        batch = job.targets[start : start + BATCH]
        drawn, found = _draw_batch(batch)
        parts += drawn
        headers.update(found)
    rest = job.rest
    info = _formats([KpiCollector(SnapshotData((), rest.info, ()))])
    others = _formats(other_collectors(rest)) if job.others else None
    return Drawn(parts, headers, info, others)


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        yield from self._families


def _formats(collectors: Sequence[Collector]) -> tuple[bytes, bytes]:
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry), generate_openmetrics(registry).removesuffix(OM_EOF)


def _family(name: str) -> GaugeMetricFamily:
    labels = ["indicator", "region"] if name == END else label_names(name)
    return GaugeMetricFamily(name, HELP[name], labels=labels)


def _target_samples(key: Key, rows: TargetRows) -> tuple[list[Sample], list[Sample]]:
    """The target's samples from its checks, and from its forecasts and data end."""
    checks = [s for row in rows.checks for s in check_samples(row)]
    rest = [s for f in rows.forecasts for s in forecast_samples(f)]
    if rows.end is not None:
        rest.append((END, list(key), rows.end))
    return checks, rest


def _draw_batch(
    batch: Sequence[tuple[Key, TargetRows]],
) -> tuple[list[tuple[Key, TargetParts]], dict[str, tuple[bytes, bytes]]]:
    """Draw a batch of targets in one exposition call and cut it back into targets."""
    families: dict[str, GaugeMetricFamily] = {}
    counts: list[tuple[dict[str, int], int]] = []
    for key, rows in batch:
        checks, rest = _target_samples(key, rows)
        count: dict[str, int] = {}
        for name, labels, value in chain(checks, rest):
            family = families.get(name)
            if family is None:
                family = families[name] = _family(name)
            family.add_metric(labels, value)
            count[name] = count.get(name, 0) + 1
        counts.append((count, len({name for name, _, _ in checks})))
    text, om = _formats([_Families(families.values())])
    text_sections, om_sections = _sections(text), _sections(om)
    cut_text = _Cut({name: lines for name, (_, lines) in text_sections.items()})
    cut_om = _Cut({name: lines for name, (_, lines) in om_sections.items()})
    parts = [
        (key, TargetParts(tuple(count), split, cut_text(count), cut_om(count)))
        for (key, _), (count, split) in zip(batch, counts, strict=True)
    ]
    headers = {name: (text_sections[name][0], om_sections[name][0]) for name in families}
    return parts, headers


def _sections(exposition: bytes) -> dict[str, tuple[bytes, list[bytes]]]:
    """Each family's HELP/TYPE lines and its sample lines (newline kept), by name."""
    out: dict[str, tuple[list[bytes], list[bytes]]] = {}
    header: list[bytes] = []
    samples: list[bytes] = []
    for line in exposition.split(b"\n")[:-1]:
        if not line.startswith(b"#"):
            samples.append(line + b"\n")
            continue
        if line.startswith(b"# HELP "):
            header, samples = [], []
            out[line.split(b" ", 3)[2].decode()] = (header, samples)
        header.append(line + b"\n")
    return {name: (b"".join(h), lines) for name, (h, lines) in out.items()}


class _Cut:
    """Takes each target's lines off the front of its families' sample lines, in order."""

    def __init__(self, lines: dict[str, list[bytes]]) -> None:
        self._lines = lines
        self._at = dict.fromkeys(lines, 0)

    def __call__(self, count: Mapping[str, int]) -> tuple[bytes, ...]:
        out = []
        for name, n in count.items():
            at = self._at[name]
            out.append(b"".join(self._lines[name][at : at + n]))
            self._at[name] = at + n
        return tuple(out)


def _others(data: SnapshotData) -> tuple[object, ...]:
    """What the units', projects', escalations' and nowcasts' families show."""
    return (data.units, data.projects, data.escalations, data.nowcasts)


class SnapshotParts:
    """The last snapshot's parts, kept by the service for the next snapshot."""

    def __init__(self) -> None:
        self._known: dict[Key, tuple[TargetRows, int]] = {}
        self._parts: dict[Key, TargetParts] = {}  # of the targets the last snapshot kept
        self._headers: dict[str, tuple[bytes, bytes]] = {}
        # the other collectors' data, their drawing and its series
        self._others: tuple[tuple[object, ...], tuple[bytes, bytes], int] | None = None

    def job(
        self,
        data: SnapshotData,
        max_series: int,
        built_at: float,
        scoped: tuple[SnapshotData, frozenset[Key]] | None = None,
    ) -> tuple[Pending, Job]:
        """What changed since the last snapshot, for the worker to draw; `scoped`: the
        scoped read `data` was merged from with the last snapshot's data, and the targets
        it read (the others' rows are not compared again)."""
        kept = self._others is not None and self._others[0] == _others(data)
        count = self._others[2] if self._others is not None and kept else None
        todo = pending(data, max_series, built_at, self._known, count, scoped)
        drawn = self._parts
        changed = [(k, r) for k, r in todo.rows.items() if k not in todo.same or k not in drawn]
        rest = replace(todo.data, checks=(), data_end=(), forecasts=())
        return todo, Job(changed, rest, not kept)

    def snapshot(self, todo: Pending, drawn: Drawn) -> Snapshot:
        """The snapshot of `todo`: the drawn parts and the kept ones, spliced."""
        new = dict(drawn.parts)
        parts = {key: new.get(key) or self._parts[key] for key in todo.rows}
        headers = {**self._headers, **drawn.headers}
        if drawn.others is not None:
            others = (_others(todo.data), drawn.others, _series(drawn.others[0]))
        elif self._others is not None:
            others = self._others
        else:
            raise ValueError("the other collectors' families were never drawn")
        text = _join(todo, parts, headers, drawn.info[0], others[1][0], 0)
        om = _join(todo, parts, headers, drawn.info[1], others[1][1], 1)
        self._known, self._parts, self._headers, self._others = todo.known, parts, headers, others
        return Snapshot(text, om, _series(text), todo.built_at, todo.dropped, todo.data)


def _join(
    todo: Pending,
    parts: Mapping[Key, TargetParts],
    headers: Mapping[str, tuple[bytes, bytes]],
    info: bytes,
    others: bytes,
    fmt: int,
) -> bytes:
    """One exposition format of the whole snapshot (fmt 0: text, 1: OpenMetrics)."""
    checks = _by_family(todo.checks, parts, headers, fmt, lambda t: range(t.split))
    forecasts = _by_family(todo.forecasts, parts, headers, fmt, lambda t: range(t.split, _last(t)))
    ends = [(parts[key].text if fmt == 0 else parts[key].openmetrics)[-1] for key in todo.ends]
    pieces = chain(
        chain.from_iterable(checks.values()),
        chain.from_iterable(forecasts.values()),
        [info],
        ends,
        [others],
    )
    return b"".join(pieces)


def _last(parts: TargetParts) -> int:
    """Where the target's forecast families end (its data end comes last, if any)."""
    return len(parts.families) - (1 if parts.families and parts.families[-1] == END else 0)


def _by_family(
    keys: Sequence[Key],
    parts: Mapping[Key, TargetParts],
    headers: Mapping[str, tuple[bytes, bytes]],
    fmt: int,
    which: Callable[[TargetParts], range],
) -> dict[str, list[bytes]]:
    """Each family's header and samples, target by target, families as first seen."""
    out: dict[str, list[bytes]] = {}
    for key in keys:
        target = parts[key]
        lines = target.text if fmt == 0 else target.openmetrics
        for i in which(target):
            name = target.families[i]
            family = out.get(name)
            if family is None:
                family = out[name] = [headers[name][fmt]]
            family.append(lines[i])
    return out


def _series(text: bytes) -> int:
    """Sample lines of a text exposition (label values never hold a raw newline)."""
    lines = text.count(b"\n")
    comments = text.count(b"\n#") + (1 if text.startswith(b"#") else 0)
    return lines - comments
