"""Config models owned by the checks stage: targets and status thresholds."""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from ingest.grains import SpanError, dekad_of_year
from ingest.schema import Id, Strict
from metrics.pace import LINEAR, pace_curve, profile_shares

Ratio = Annotated[float, Field(gt=0, le=2)]
Status = Literal["on_track", "at_risk", "behind"]


class Thresholds(Strict):
    """[thresholds]: when a check turns yellow or red.

    Flows and stocks compare attainment (actual ÷ pace) with the two ratios; growth
    rates compare the gap in percentage points with `growth_*_pp`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    at_risk_below: Ratio = 1.0
    behind_below: Ratio = 0.8
    growth_at_risk_below_pp: float = Field(default=0.0, ge=-50, le=50)
    growth_behind_below_pp: float = Field(default=-0.5, ge=-50, le=50)
    # Hysteresis: after a red period, this many on-pace periods stay yellow (0 = off).
    recover_after: int = Field(default=0, ge=0, le=12)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.behind_below > self.at_risk_below:
            raise ValueError("behind_below must not exceed at_risk_below")
        if self.growth_behind_below_pp > self.growth_at_risk_below_pp:
            raise ValueError("growth_behind_below_pp must not exceed growth_at_risk_below_pp")
        return self


class Checks(Strict):
    """[checks]: labels, release calendar and roll-up tolerance."""

    labels: dict[Status, str] = {"on_track": "蓝", "at_risk": "黄", "behind": "红"}
    # Data is stale when the next period is this many days past its end and not loaded.
    release_lag_days_monthly: int = Field(default=25, ge=0, le=366)
    release_lag_days_quarterly: int = Field(default=30, ge=0, le=366)
    # A 旬 figure's release after its 旬: its check pages until the next 旬's is due.
    release_lag_days_dekad: int = Field(default=5, ge=0, le=60)
    # A parent's own figure differing from its children's sum by more is reported.
    rollup_tolerance: float = Field(default=0.01, ge=0, le=1)
    # Targets split over sub-regions (or key works over tasks) that do not add up: reported
    # (check-config's split: lines, the table target_splits), or refused with the config.
    split_mismatch: Literal["report", "error"] = "report"


class Target(Strict):
    """[[targets]]: one indicator × region × year target and how to pace it."""

    # nan or inf would compare as no colour at all: a target is a finite number
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    indicator: Id
    region: Id
    year: int = Field(ge=1949, le=2100)
    # the year's target; a plan may give only quarters or months (a Q1 target): then
    # the checks run to the last period given and there is no year horizon
    annual: float | None = None
    # cumulative values at the end of Q1, Q2, Q3 (flows) or levels/rates (stock, growth)
    quarters: dict[Literal["Q1", "Q2", "Q3", "Q4"], float] = {}
    # cumulative values at the end of given months, keyed "1".."12"
    months: dict[str, float] = {}
    # cumulative values at the end of given 旬, keyed "3-D2" or "3月中旬": a 上旬's or
    # 中旬's value shapes the pace inside its month, a 下旬's is its month's end value
    dekads: dict[str, float] = {}
    pacing: Literal["linear", "seasonal", "profile"] = "linear"
    profile: tuple[float, ...] = ()
    # the unit answering for this target (定人定责); else the region's, else the indicator's
    owner: str | None = None
    # a floor on year-on-year growth (%) beside the level target (195 亿元 and ≥ 20 %),
    # checked on the growth derived from the levels
    growth: float | None = None
    # a growth rate at least `margin_pp` above another region's published rate
    # (增速高于全省、全市增速): checked each period against that region's figure
    relative_to: Id | None = None
    margin_pp: float = Field(default=0.0, ge=-50, le=50)

    @model_validator(mode="after")
    def _profile(self) -> Target:
        if self.relative_to is not None:
            return self._relative()
        if self.margin_pp:
            raise ValueError("margin_pp is only used with relative_to")
        if self.annual is None and not (self.quarters or self.months or self._month_ends()):
            raise ValueError("a target needs annual, quarters or months (or a 下旬 in dekads)")
        if self.pacing == "profile" and len(self.profile) != 12:
            raise ValueError("pacing 'profile' needs 12 monthly weights in profile")
        if self.pacing != "profile" and self.profile:
            raise ValueError("profile is only used with pacing = 'profile'")
        if any(w < 0 for w in self.profile):
            raise ValueError("profile weights must not be negative")
        bad = [k for k in self.months if not k.isdigit() or not 1 <= int(k) <= 12]
        if bad:
            raise ValueError(f"months keys must be 1..12, not {bad}")
        return self

    @field_validator("dekads")
    @classmethod
    def _dekad_keys(cls, dekads: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        """Each key names one 旬 of the target's year, and no 旬 twice."""
        year = info.data.get("year")
        if year is None:  # the year is refused already
            return dekads
        seen: dict[tuple[int, int], str] = {}
        for key in dekads:
            try:
                which = dekad_of_year(key, year)
            except SpanError as exc:
                raise ValueError(f'"{key}": {exc}') from None
            if which in seen:
                raise ValueError(f'"{seen[which]}" and "{key}" name one 旬')
            seen[which] = key
        return dekads

    def dekad_values(self) -> dict[tuple[int, int], float]:
        """The dekads values by (month, 1..3)."""
        return {dekad_of_year(k, self.year): v for k, v in self.dekads.items()}

    def month_values(self) -> dict[int, float]:
        """Cumulative values at month ends: `months`, and each 下旬's value (a month's end)."""
        given = {int(m): v for m, v in self.months.items()}
        for m, v in self._month_ends().items():
            given.setdefault(m, v)
        return given

    def inner_dekads(self) -> dict[tuple[int, int], float]:
        """Values at the end of a 上旬 or 中旬 (month, 1 or 2): the pace inside months."""
        if not self.dekads:
            return {}
        return {k: v for k, v in self.dekad_values().items() if k[1] < 3}

    def last_given(self) -> tuple[int, float]:
        """The last month end the target gives a value for, and that value (the year's
        end and the annual target when there is one)."""
        if self.annual is not None:
            return 12, self.annual
        given = {3 * int(q[1]): v for q, v in self.quarters.items()}
        given.update(self.month_values())
        last = max(given)
        return last, given[last]

    def _month_ends(self) -> dict[int, float]:
        if not self.dekads:
            return {}
        return {m: v for (m, n), v in self.dekad_values().items() if n == 3}

    def _relative(self) -> Target:
        # the other region's figures are the target: a value of its own would contradict them
        given = [k for k in ("annual", "growth") if getattr(self, k) is not None]
        given += [k for k in ("quarters", "months", "dekads", "profile") if getattr(self, k)]
        if given:
            raise ValueError(f"a target relative_to a region takes no {', '.join(given)}")
        if self.pacing != "linear":
            raise ValueError("a target relative_to a region has no pacing")
        if self.relative_to == self.region:
            raise ValueError("a region cannot be its own reference (relative_to)")
        return self


def contradictions(target: Target, kind: str) -> list[tuple[str, str]]:
    """(key, why) for each value of a target that contradicts another one.

    A flow's quarter, month and 旬 values are cumulative, so they cannot fall from one
    anchor to the next nor pass the year; a value given twice for one month end (month
    "3", Q1 and "3-D3"; month "12" or Q4 and the year) must agree. A stock's Q4 is its
    year-end level. Growth rates are free: a quarter's rate may exceed the year's.
    """
    if kind == "growth":
        return []
    # (the 旬 of the year a value is due by, counted 1..36: a month's end is 3 × month)
    given: list[tuple[int, str, float]] = []
    if target.annual is not None:
        given.append((36, "annual", target.annual))
    given += [(9 * int(q[1]), f"quarters.{q}", v) for q, v in target.quarters.items()]
    given += [(3 * int(m), f'months."{m}"', v) for m, v in target.months.items()]
    for key, value in target.dekads.items():
        month, which = dekad_of_year(key, target.year)
        given.append((3 * (month - 1) + which, f'dekads."{key}"', value))
    given.sort(key=lambda g: (g[0], g[1] != "annual"))
    found: list[tuple[str, str]] = []
    by_end: dict[int, tuple[str, float]] = {}
    for end, key, value in given:
        first = by_end.setdefault(end, (key, value))
        if first[0] != key and not _same(first[1], value):
            found.append((key, f"{value:g} contradicts {first[0]} = {first[1]:g} (same month end)"))
    if kind != "flow":
        return found
    flagged = {k for k, _ in found}
    for (e0, (k0, v0)), (e1, (k1, v1)) in pairwise(sorted(by_end.items())):
        if v1 < v0 and not _same(v0, v1):
            why = f"{v0:g} is due by {_due(e0)} ({k0}), more than {v1:g} by {_due(e1)}"
            found.append((k0 if k1 == "annual" else k1, f"cumulative values fall: {why}"))
            flagged |= {k0, k1}
    return found + _outside_month(target, flagged)


def _due(end: int) -> str:
    """A due point in words: month 3, or 3月中旬 (a 旬 inside its month)."""
    if end % 3 == 0:
        return f"month {end // 3}"
    return f"{(end - 1) // 3 + 1}月{'上中'[(end - 1) % 3]}旬"


def _outside_month(target: Target, flagged: set[str]) -> list[tuple[str, str]]:
    """A flow's 上旬 or 中旬 value outside the pace at its month's two ends.

    Inside a month the pace runs from the previous month's end through the 旬 values to
    the month's end, so a value below the first or above the second would make the pace
    fall. Seasonal pacing learns its month ends from the store: not known here.
    """
    inner = target.inner_dekads()
    if not inner or target.pacing == "seasonal":
        return []
    shares = profile_shares(target.profile) if target.pacing == "profile" else LINEAR
    quarters = {int(q[1]): v for q, v in target.quarters.items()}
    last, year_end = target.last_given()
    curve = pace_curve(year_end, shares, quarters, target.month_values())
    found = []
    for key, value in target.dekads.items():
        month, which = dekad_of_year(key, target.year)
        low, high = float(curve[month - 1]), float(curve[month]) if month <= last else None
        if which == 3 or f'dekads."{key}"' in flagged:
            continue
        if _below(value, low) or (high is not None and _below(high, value)):
            bounds = f"{low:.2f} due by month {month - 1}" if month > 1 else "0 at the start"
            if high is not None:
                bounds += f" and {high:.2f} by month {month}"
            why = f"{value:g} is outside the pace of its month ({bounds}, {target.pacing} pacing)"
            found.append((f'dekads."{key}"', why))
    return found


def _below(a: float, b: float) -> bool:
    return a < b and not _same(a, b)


def _same(a: float, b: float) -> bool:
    """Equal at the precision targets are written in (a last bit is not a contradiction)."""
    return round(a, 6) == round(b, 6)
