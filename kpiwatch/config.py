"""config.toml: parse, validate against the schema, cross-check references."""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field, PrivateAttr, ValidationError

from exporters.schema import Alerts, Grafana, Server
from exporters.unit_rules import UnitAlerts
from forecasts.schema import ForecastSettings, NowcastSettings, check_nowcasts
from ingest.errors import ConfigError, Problem, UsageError
from ingest.register_schema import Register, check_registers
from ingest.schema import Id, Indicator, Region, Source, StoreSettings, Strict, per_dekad
from ingest.text import name_key
from ingest.unit_schema import (
    ProblemItem,
    Task,
    TaskFile,
    Unit,
    cross_check_units,
    parent_cycles,
)
from metrics.ladder import Escalation, check_talks
from metrics.per_period import EveryPeriod, check_rules
from metrics.schema import Checks, Target, Thresholds, contradictions
from metrics.scope import CheckInputs, check_inputs
from metrics.splits import Split, target_split_gaps, target_splits, task_split_gaps
from metrics.task_status import TaskScoring

_Named = TypeVar("_Named", Indicator, Region)


class Config(Strict):
    """The whole of config.toml."""

    store: StoreSettings = StoreSettings()
    indicators: tuple[Indicator, ...] = ()
    regions: tuple[Region, ...] = ()
    sources: tuple[Source, ...] = ()
    registers: tuple[Register, ...] = ()
    targets: tuple[Target, ...] = ()
    thresholds: Thresholds = Thresholds()
    checks: Checks = Checks()
    server: Server = Server()
    forecasts: ForecastSettings = ForecastSettings()
    nowcasts: tuple[NowcastSettings, ...] = ()
    alerts: Alerts = Alerts()
    grafana: Grafana = Grafana()
    indicator_thresholds: dict[Id, Thresholds] = Field(default_factory=dict)
    units: tuple[Unit, ...] = ()
    tasks: tuple[Task, ...] = ()
    problems: tuple[ProblemItem, ...] = ()
    task_files: tuple[TaskFile, ...] = ()
    task_scoring: TaskScoring = TaskScoring()
    unit_alerts: UnitAlerts = UnitAlerts()
    escalation: Escalation = Escalation()
    every_period: tuple[EveryPeriod, ...] = ()
    _base: Path = PrivateAttr(default=Path("."))
    _check_inputs: CheckInputs | None = PrivateAttr(default=None)

    @property
    def base_dir(self) -> Path:
        """Directory relative paths in the config are resolved against."""
        return self._base

    def resolve(self, path: str) -> Path:
        """A config path, relative to the config file's directory."""
        p = Path(path)
        return p if p.is_absolute() else self._base / p

    @property
    def store_path(self) -> Path:
        return self.resolve(self.store.path)

    def indicator_map(self) -> dict[str, Indicator]:
        return {i.id: i for i in self.indicators}

    def thresholds_for(self, indicator: str) -> Thresholds:
        """The indicator's own thresholds, else the global ones."""
        return self.indicator_thresholds.get(indicator, self.thresholds)

    def check_inputs(self) -> CheckInputs:
        """Digests of what the checks and forecasts read from this config, made once."""
        if self._check_inputs is None:
            self._check_inputs = check_inputs(
                self.targets,
                self.indicators,
                self.regions,
                {i.id: self.thresholds_for(i.id) for i in self.indicators},
                [self.checks.model_dump_json(), self.forecasts.model_dump_json()],
            )
        return self._check_inputs


def load_config(path: str | Path) -> Config:
    """Read and validate config.toml; raise ConfigError listing every problem."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(str(path), [Problem("", "file not found")]) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [Problem("", f"not valid TOML: {exc}")]) from exc
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        problems = [Problem(_toml_path(raw, e["loc"]), e["msg"]) for e in exc.errors()]
        raise ConfigError(str(path), problems) from exc
    config, problems = with_growth_floors(config)
    problems += cross_check(config)
    if problems:
        raise ConfigError(str(path), problems)
    config._base = path.resolve().parent
    return config


def with_growth_floors(config: Config) -> tuple[Config, list[Problem]]:
    """Each target's `growth` floor as a target of the growth derived from its levels.

    The growth indicator is the one declared with `levels = <indicator>`, else
    `<indicator>_growth`, made here from the level indicator (unit %, same owner).
    """
    floors = [t for t in config.targets if t.growth is not None]
    if not floors:
        return config, []
    indicators = {i.id: i for i in config.indicators}
    by_levels = {i.levels: i for i in config.indicators if i.levels is not None}
    added: dict[str, Indicator] = {}
    targets, problems = list(config.targets), []
    for t in floors:
        level = indicators.get(t.indicator)
        if level is None:
            continue  # cross_check names the unknown indicator
        rate = by_levels.get(t.indicator) or added.get(t.indicator) or _growth_of(level)
        where = f"targets[indicator={t.indicator}, region={t.region}, year={t.year}].growth"
        if rate.id in indicators and indicators[rate.id].levels != t.indicator:
            why = f"indicator {rate.id!r} exists and is not derived from {t.indicator!r}"
            problems.append(Problem(where, f"{why}: declare it with levels = {t.indicator!r}"))
            continue
        if rate.id not in indicators:
            added[t.indicator] = rate
        assert t.growth is not None
        targets.append(
            Target(indicator=rate.id, region=t.region, year=t.year, annual=t.growth, owner=t.owner)
        )
    update = {"indicators": (*config.indicators, *added.values()), "targets": tuple(targets)}
    return config.model_copy(update=update), problems


def _growth_of(level: Indicator) -> Indicator:
    return Indicator(
        id=f"{level.id}_growth",
        name=f"{level.name} 增速 growth",
        unit="%",
        kind="growth",
        frequency=level.frequency,
        direction=level.direction,
        owner=level.owner,
        illustrative=level.illustrative,
        levels=level.id,
    )


def _toml_path(raw: Any, loc: tuple[int | str, ...]) -> str:
    """Render a pydantic location as a TOML path, naming array tables by their id."""
    parts: list[str] = []
    node = raw
    for key in loc:
        if isinstance(key, int) and isinstance(node, list):
            item = node[key] if key < len(node) else None
            label = _item_label(item) or f"#{key + 1}"
            parts[-1] = f"{parts[-1]}[{label}]" if parts else f"[{label}]"
            node = item
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts)


def _item_label(item: Any) -> str | None:
    if isinstance(item, dict):
        for key in ("id", "name"):
            if isinstance(item.get(key), str):
                return f"{key}={item[key]}"
        if isinstance(item.get("indicator"), str):
            return f"indicator={item['indicator']}"
    return None


def cross_check(config: Config) -> list[Problem]:
    """Problems that need more than one table to see: references, duplicates, cycles."""
    problems: list[Problem] = []
    indicators = {i.id for i in config.indicators}
    kinds = {i.id: i.kind for i in config.indicators}
    regions = {r.id: r for r in config.regions}
    # indicators checked per 旬: published per 旬, or counted from a register
    checked_per_dekad = per_dekad(config.indicators)
    checked_per_dekad |= {c.indicator for r in config.registers for c in r.counts}
    for table, ids in (
        ("indicators", [i.id for i in config.indicators]),
        ("regions", [r.id for r in config.regions]),
        ("sources", [s.name for s in config.sources]),
    ):
        for dup in sorted(i for i, n in Counter(ids).items() if n > 1):
            problems.append(Problem(f"{table}[id={dup}]", "defined more than once"))
    kinds_ = {i.id: i.kind for i in config.indicators}
    for i in config.indicators:
        if i.levels is not None and (i.kind != "growth" or kinds_.get(i.levels) == "growth"):
            why = "only a growth indicator derives from levels, of a flow or stock"
            problems.append(Problem(f"indicators[id={i.id}].levels", why))
        elif i.levels is not None and i.levels not in kinds_:
            problems.append(Problem(f"indicators[id={i.id}].levels", f"unknown {i.levels!r}"))
    for r in config.regions:
        if r.parent is not None and r.parent not in regions:
            problems.append(Problem(f"regions[id={r.id}].parent", f"unknown region {r.parent!r}"))
    problems += _cycles(regions)
    problems += _region_names(config.regions)
    for s in config.sources:
        problems += _check_source(s, indicators, set(regions))
    for t in config.targets:
        where = f"targets[indicator={t.indicator}, region={t.region}, year={t.year}]"
        if t.indicator not in indicators:
            problems.append(Problem(f"{where}.indicator", f"unknown indicator {t.indicator!r}"))
        if t.region not in regions:
            problems.append(Problem(f"{where}.region", f"unknown region {t.region!r}"))
        if t.indicator in kinds:
            for key, why in contradictions(t, kinds[t.indicator]):
                problems.append(Problem(f"{where}.{key}", why))
        if t.inner_dekads() and t.indicator not in checked_per_dekad:
            problems.append(Problem(f"{where}.dekads", UNCHECKED_DEKADS))
        problems += relative_problems(t, where, kinds, regions)
    keys = [(t.indicator, t.region, t.year) for t in config.targets]
    for ind, reg, year in sorted(k for k, n in Counter(keys).items() if n > 1):
        where = f"targets[indicator={ind}, region={reg}, year={year}]"
        problems.append(Problem(where, "defined more than once"))
    problems += check_registers(
        config.registers, config.indicator_map(), {s.name for s in config.sources}
    )
    for ind in config.indicator_thresholds:
        if ind not in indicators:
            problems.append(Problem(f"indicator_thresholds.{ind}", "unknown indicator"))
    problems += cross_check_units(config.units, config.regions, config.tasks, config.problems)
    problems += check_talks(config.escalation, known_units(config))
    problems += check_rules(config.every_period, config.registers, set(regions))
    problems += check_nowcasts(config.nowcasts, config.indicator_map(), set(regions))
    return problems + split_problems(config)


UNCHECKED_DEKADS = (
    "上旬 and 中旬 values pace the 旬 checks, which run only for register counts and "
    'indicators with frequency = "dekad" (a 下旬 value, its month\'s end, is fine)'
)


def known_units(config: Config) -> set[str]:
    """Every name a talk may give its unit by: a unit's id or name, a region, an owner."""
    named = {u.id for u in config.units} | {u.name for u in config.units}
    named |= {r.id for r in config.regions} | {r.owner or "" for r in config.regions}
    named |= {i.owner for i in config.indicators} | {t.owner or "" for t in config.targets}
    return named - {""}


def split_gaps(config: Config) -> list[Split]:
    """Targets and key works whose children's values do not add up to theirs."""
    kinds = {i.id: i.kind for i in config.indicators}
    return target_split_gaps(config.targets, config.regions, kinds) + task_split_gaps(config.tasks)


def splits_of(config: Config) -> list[Split]:
    """Every target split over its sub-regions' targets, adding up or not."""
    return target_splits(config.targets, config.regions, {i.id: i.kind for i in config.indicators})


def split_problems(config: Config) -> list[Problem]:
    """Under [checks] split_mismatch = "error", each split that does not add up."""
    if config.checks.split_mismatch != "error":
        return []
    why = '; [checks] split_mismatch = "error" refuses a split that does not add up'
    return [Problem(gap.where, gap.detail + why) for gap in split_gaps(config)]


def relative_problems(
    t: Target, where: str, kinds: Mapping[str, str], regions: Mapping[str, Region]
) -> list[Problem]:
    """A relative target compares growth rates with a region the config knows."""
    if t.relative_to is None:
        return []
    if t.relative_to not in regions:
        return [Problem(f"{where}.relative_to", f"unknown region {t.relative_to!r}")]
    if kinds.get(t.indicator, "growth") != "growth":
        why = "only a growth rate is compared with another region's (增速高于…)"
        return [Problem(f"{where}.relative_to", why)]
    return []


def _cycles(regions: dict[str, Region]) -> list[Problem]:
    cyclic = parent_cycles({r.id: r.parent for r in regions.values()})
    return [Problem(f"regions[id={r}].parent", "region tree has a cycle") for r in cyclic]


def _region_names(regions: tuple[Region, ...]) -> list[Problem]:
    """A file's region text must name one region: ids, names and aliases never collide.

    Texts are compared as files are read (widths, invisible characters, spaces aside).
    """
    owner: dict[str, str] = {}
    problems = []
    for r in regions:
        for key, text in [("id", r.id), ("name", r.name)] + [("aliases", a) for a in r.aliases]:
            other = owner.setdefault(name_key(text), r.id)
            if not name_key(text):
                problems.append(Problem(f"regions[id={r.id}].{key}", "empty name"))
            elif other != r.id:
                msg = f"{text!r} also names region {other!r}: a file's rows would be ambiguous"
                problems.append(Problem(f"regions[id={r.id}].{key}", msg))
    return problems


def _check_source(s: Source, indicators: set[str], regions: set[str]) -> list[Problem]:
    where = f"sources[name={s.name}]"
    problems = []
    seen: dict[str, str] = {}
    for key in s.series:
        first = seen.setdefault(name_key(key), key)
        if first != key:
            msg = f"the same series as {first!r} once spaces and character widths are ignored"
            problems.append(Problem(f'{where}.series."{key}"', msg))
    if s.indicator is not None and s.indicator not in indicators:
        problems.append(Problem(f"{where}.indicator", f"unknown indicator {s.indicator!r}"))
    if s.region is not None and s.region not in regions:
        problems.append(Problem(f"{where}.region", f"unknown region {s.region!r}"))
    for key, entry in s.series.items():
        if entry.indicator is not None and entry.indicator not in indicators:
            msg = f"unknown indicator {entry.indicator!r}"
            problems.append(Problem(f'{where}.series."{key}".indicator', msg))
        if entry.region is not None and entry.region not in regions:
            problems.append(
                Problem(f'{where}.series."{key}".region', f"unknown region {entry.region!r}")
            )
    has_region = (
        s.region is not None
        or s.columns.region is not None
        or (s.layout == "wide" and s.row_key == "region")
        or (bool(s.series) and all(e.region for e in s.series.values()))
    )
    if not has_region:
        problems.append(Problem(where, "says nowhere which region its rows are for"))
    return problems


def find_region(config: Config, text: str) -> Region:
    """The region a user names by id, name or alias (spaces, width and case aside)."""
    return _find(config.regions, text, "region", lambda r: (r.id, r.name, *r.aliases))


def find_indicator(config: Config, text: str) -> Indicator:
    """The indicator a user names by id or name (spaces, width and case aside)."""
    return _find(config.indicators, text, "indicator", lambda i: (i.id, i.name))


def _find(
    items: Sequence[_Named], text: str, what: str, names: Callable[[_Named], tuple[str, ...]]
) -> _Named:
    for item in items:  # an exact id wins over any name that folds to it
        if item.id == text:
            return item
    wanted = _fold(text)
    found = [item for item in items if wanted in {_fold(n) for n in names(item)}]
    if len(found) == 1:
        return found[0]
    if found:
        shown = ", ".join(f"{i.id} ({i.name})" for i in found)
        raise UsageError(f"{what} {text!r} is ambiguous: it names {shown}")
    scored = sorted(
        (
            (max(SequenceMatcher(None, wanted, _fold(n)).ratio() for n in names(i)), i)
            for i in items
        ),
        key=lambda pair: -pair[0],
    )
    nearest = ", ".join(f"{i.id} ({i.name})" for _, i in scored[:5])
    raise UsageError(f"no {what} {text!r}" + (f"; nearest: {nearest}" if nearest else ""))


def _fold(text: str) -> str:
    return name_key(text).casefold()
