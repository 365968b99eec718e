"""What a refresh recomputes: the targets whose inputs changed since the last refresh.

A target's checks (and forecasts) follow from its own config, the config it shares with
every target (indicators, regions, thresholds, settings, this code), the observations
of its series, and the day staleness is judged on. The last refresh's view of each is
kept in the store (check_state, check_inputs): digests of the config, as the forecasts
keep a digest of each job's inputs, and the newest load, since observations only ever
change by new loads. A changed series brings in its whole region family (the roll-up
into its parents, the ranks among its siblings) and the growth rates derived from it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from ingest import store_views
from ingest.fingerprint import source_digest
from ingest.schema import Indicator, Region, region_children
from ingest.store import transaction
from metrics.schema import Target, Thresholds

Pair = tuple[str, str]  # indicator, region


def _code() -> str:
    """This code's fingerprint: an upgrade that changes it recomputes every check once."""
    here = Path(__file__).parent
    names = ("actuals", "checks", "pace", "progress", "scope", "targets")
    return source_digest([store_views, *(here / f"{name}.py" for name in names)])[:16]


CODE = _code()


@dataclass(frozen=True)
class CheckInputs:
    """Digests of what the config gives the checks: per target, and everything shared."""

    per_target: tuple[str, ...]
    targets: str  # all of per_target
    shared: str
    by_series: Mapping[Pair, tuple[int, ...]]  # the targets of each series, by position

    def with_code(self, fingerprint: str) -> CheckInputs:
        """The same inputs, read by code with this fingerprint too."""
        shared = hashlib.sha1((self.shared + fingerprint).encode()).hexdigest()
        return CheckInputs(self.per_target, self.targets, shared, self.by_series)


def check_inputs(
    target_list: Sequence[Target],
    indicators: Iterable[Indicator],
    regions: Iterable[Region],
    thresholds: Mapping[str, Thresholds],
    settings: Iterable[str],
) -> CheckInputs:
    """Digest the config once (a service keeps it until its config is reloaded)."""
    per_target = tuple(
        hashlib.sha1(t.model_dump_json().encode()).hexdigest()[:16] for t in target_list
    )
    shared = json.dumps(
        [
            CODE,
            [i.model_dump_json() for i in indicators],
            [r.model_dump_json() for r in regions],
            {k: v.model_dump_json() for k, v in thresholds.items()},
            list(settings),
            [(t.indicator, t.region, t.year) for t in target_list],
        ]
    )
    by_series: dict[Pair, list[int]] = {}
    for i, t in enumerate(target_list):
        by_series.setdefault((t.indicator, t.region), []).append(i)
    return CheckInputs(
        per_target,
        hashlib.sha1("".join(per_target).encode()).hexdigest(),
        hashlib.sha1(shared.encode()).hexdigest(),
        {pair: tuple(ids) for pair, ids in by_series.items()},
    )


@dataclass(frozen=True)
class Plan:
    """The targets a refresh recomputes (None: all) and the series it reads for them."""

    ids: tuple[int, ...] | None
    series: tuple[Pair, ...] | None
    load_id: int
    restale: bool  # a new day: re-judge the staleness of the targets not recomputed

    @property
    def full(self) -> bool:
        return self.ids is None


def plan_refresh(
    con: duckdb.DuckDBPyConnection,
    inputs: CheckInputs,
    target_list: Sequence[Target],
    regions: Sequence[Region],
    levels: Mapping[str, str],
    today: date,
) -> Plan:
    """Compare the store's record of the last refresh with now; `levels` maps a growth
    indicator to the indicator whose levels give its rate."""
    load_id = int(con.execute("SELECT coalesce(max(load_id), 0) FROM loads").fetchall()[0][0])
    state = con.execute("SELECT load_id, inputs, targets, today FROM check_state").fetchall()
    if len(state) != 1 or state[0][1] != inputs.shared or state[0][0] > load_id:
        return Plan(None, None, load_id, True)
    seen, _, digest, day = state[0]
    changed: set[Pair] = {
        (str(i), str(r))
        for i, r in con.execute(
            "SELECT DISTINCT s.indicator, s.region FROM vintages v JOIN series s "
            "USING (series_id) WHERE v.load_id > ?",
            [seen],
        ).fetchall()
    }
    if digest != inputs.targets:
        stored = dict(con.execute("SELECT target_id, inputs FROM check_inputs").fetchall())
        for tid, (t, now) in enumerate(zip(target_list, inputs.per_target, strict=True)):
            if stored.get(tid) != now:
                changed.add((t.indicator, t.region))
    series = closure(changed, regions, levels)
    # a target relative to another region reads that region's series too, both ways
    refs = [(t.indicator, t.region, t.relative_to) for t in target_list if t.relative_to]
    while more := {
        pair
        for ind, own, other in refs
        if ((ind, own) in series) != ((ind, other) in series)
        for pair in ((ind, own), (ind, other))
        if pair not in series
    }:
        series |= closure(more, regions, levels)
    ids = sorted(i for pair in series for i in inputs.by_series.get(pair, ()))
    return Plan(tuple(ids), tuple(sorted(series)), load_id, day != today)


def closure(
    changed: Iterable[Pair], regions: Sequence[Region], levels: Mapping[str, str]
) -> set[Pair]:
    """The series whose actuals a change can move, and all those needed to compute them:
    the whole region family (its top region's subtree), for the indicator, the growth
    rates derived from its levels and the levels a growth rate derives from."""
    parent = {r.id: r.parent for r in regions}
    children = region_children(regions)
    derived: dict[str, set[str]] = {}
    for growth, level in levels.items():
        derived.setdefault(level, set()).add(growth)
        derived.setdefault(growth, set()).add(level)
    families: dict[str, list[str]] = {}
    out: set[Pair] = set()
    for indicator, region in changed:
        top = region
        while parent.get(top) is not None and parent[top] in parent:
            top = str(parent[top])
        if top not in families:
            families[top] = _subtree(top, children)
        for ind in {indicator, *derived.get(indicator, ())}:
            out.update((ind, r) for r in families[top])
    return out


def _subtree(top: str, children: Mapping[str, list[str]]) -> list[str]:
    found, todo = [], [top]
    while todo:
        node = todo.pop()
        found.append(node)
        todo.extend(children.get(node, ()))
    return found


def save_state(
    con: duckdb.DuckDBPyConnection, inputs: CheckInputs, plan: Plan, today: date
) -> None:
    """Record what this refresh saw, once its checks and forecasts are stored."""
    old = con.execute("SELECT targets FROM check_state").fetchall()
    with transaction(con):
        con.execute("DELETE FROM check_state")
        con.execute(
            "INSERT INTO check_state VALUES (?, ?, ?, ?)",
            [plan.load_id, inputs.shared, inputs.targets, today],
        )
        if old != [(inputs.targets,)]:  # else check_inputs holds these digests already
            frame = pd.DataFrame(
                {"target_id": range(len(inputs.per_target)), "inputs": inputs.per_target}
            )
            con.register("_inputs", frame)
            con.execute("DELETE FROM check_inputs")
            con.execute("INSERT INTO check_inputs SELECT * FROM _inputs")
            con.unregister("_inputs")


def forget_state(con: duckdb.DuckDBPyConnection) -> None:
    """After checks computed alone (no forecasts): the next refresh recomputes all."""
    con.execute("DELETE FROM check_state")
