"""Targets relative to another region (增速高于全省、全市): aimed at that region's forecast.

A relative target's year (and quarter) is met when the region's rate at the horizon's
end beats the reference region's rate then by the margin. Both are still to come, so
the forecast aims at the reference's own forecast to that end plus the margin: the jobs
run in waves, a reference's before those of the targets relative to it. Where the
reference has published its rate for that end already, the aim is that rate; where it
has no forecast to that end (no target of its own, too short a history, a cycle of
references), its latest published rate to date. The forecast's note says which.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from forecasts.jobs import Job, Result

Key = tuple[str, str, int]  # indicator, region, year
# a series' forecast point per horizon: (indicator, region, year, horizon) → (end month, point)
Points = dict[tuple[str, str, int, str], tuple[int, float | None]]
Labels = dict[Key, dict[str, str]]  # per job and horizon: what the target aims at


@dataclass(frozen=True)
class Aim:
    """What a relative target's job compares with."""

    reference: str  # the other region
    margin: float
    latest: float  # the reference's latest rate to date, as of the job's month
    latest_month: int
    published: tuple[tuple[int, float], ...] = ()  # its rates to date this year, by month


def key(job: Job) -> Key:
    return job.indicator, job.region, job.year


def run_in_waves(
    jobs: Sequence[Job],
    aims: Mapping[Key, Aim],
    run_wave: Callable[[list[Job], Labels], Points],
) -> None:
    """Hand the jobs to `run_wave` reference first, each relative one aimed at the points
    its reference's wave returned; `run_wave` returns the points of the jobs it was given
    (those it reused included)."""
    points: Points = {}
    pending = list(jobs)
    while pending:
        waiting = {key(j) for j in pending}
        ready = [j for j in pending if not _waits(j, aims.get(key(j)), waiting)]
        ready = ready or pending  # a cycle of references: each aims at the latest rate
        labels: Labels = {}
        wave = []
        for job in ready:
            aim = aims.get(key(job))
            if aim is None:
                wave.append(job)
                continue
            aimed, labels[key(job)] = aim_at(job, aim, points)
            wave.append(aimed)
        points.update(run_wave(wave, labels))
        done = {key(j) for j in ready}
        pending = [j for j in pending if key(j) not in done]


def _waits(job: Job, aim: Aim | None, waiting: set[Key]) -> bool:
    return aim is not None and (job.indicator, aim.reference, job.year) in waiting


def aim_at(job: Job, aim: Aim, points: Points) -> tuple[Job, dict[str, str]]:
    """The job with its year and quarter aimed at the reference's forecast to their ends,
    or its latest rate where it has none; and what each horizon aims at, in words."""
    targets, labels = {}, {}
    published = dict(aim.published)
    for horizon, end in (("year", 12), ("quarter", job.quarter_month)):
        found = points.get((job.indicator, aim.reference, job.year, horizon))
        point = found[1] if found is not None and found[0] == end else None
        ends = _label(job, end)
        if end in published:  # the reference is ahead: its figure is no longer a forecast
            targets[horizon] = published[end] + aim.margin
            labels[horizon] = (
                f"aims at {aim.reference}'s published rate {published[end]:.2f} for {ends} "
                f"{aim.margin:+g} pp"
            )
        elif point is None:
            targets[horizon] = aim.latest + aim.margin
            labels[horizon] = (
                f"aims at {aim.reference}'s latest rate {aim.latest:.2f} "
                f"({_label(job, aim.latest_month)}) {aim.margin:+g} pp: "
                f"{aim.reference} has no forecast to {ends}"
            )
        else:
            targets[horizon] = point + aim.margin
            labels[horizon] = (
                f"aims at {aim.reference}'s forecast {point:.2f} for {ends} {aim.margin:+g} pp"
            )
    aimed = replace(job, year_target=targets["year"], quarter_target=targets["quarter"])
    return aimed, labels


def labelled(results: list[Result], labels: Labels) -> list[Result]:
    """Results with what a relative target aims at added to their note."""
    out = []
    for r in results:
        label = labels.get((r.indicator, r.region, r.year), {}).get(r.horizon)
        out.append(r if label is None else replace(r, note=f"{r.note}; {label}".lstrip("; ")))
    return out


def result_points(results: Sequence[Result]) -> Points:
    """The forecast points of results, by series, year and horizon."""
    return {(r.indicator, r.region, r.year, r.horizon): (r.horizon_month, r.point) for r in results}


def referenced(jobs: Sequence[Job], aims: Mapping[Key, Aim]) -> list[Job]:
    """Those of the jobs some relative target aims at."""
    refs = {(ind, aim.reference, year) for (ind, _, year), aim in aims.items()}
    return [j for j in jobs if key(j) in refs]


def _label(job: Job, month: int) -> str:
    if job.step == 3:
        return f"{job.year}Q{(month + 2) // 3}"
    return f"{job.year}-{month:02d}"
