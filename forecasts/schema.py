"""Config models owned by the forecasts stage."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import Field, model_validator

from ingest.errors import Problem
from ingest.schema import Id, Indicator, Strict


class ForecastSettings(Strict):
    """[forecasts]: simulation size, fan-out, and how P(meet target) turns a check."""

    enabled: bool = True
    paths: int = Field(default=1000, ge=100, le=100_000)
    # A check whose forecast meets the horizon's target with less probability turns
    # yellow (at_risk_below) or red (behind_below).
    at_risk_below: float = Field(default=0.5, ge=0, le=1)
    behind_below: float = Field(default=0.2, ge=0, le=1)
    workers: int = Field(default=2, ge=1, le=64)
    # tcp://HOST:PORT of a Dask scheduler; local processes when unset.
    scheduler: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ForecastSettings:
        if self.behind_below > self.at_risk_below:
            raise ValueError("behind_below must not exceed at_risk_below")
        return self


Transform = Literal["yoy", "ytd_yoy", "level", "log_yoy"]


class NowcastInput(Strict):
    """[[nowcasts.monthly]]: one monthly indicator informing a nowcast."""

    indicator: Id
    # yoy: the YoY % as published (a Jan–Feb combined release from its ytd_yoy_pct);
    # ytd_yoy: 1–N月累计 YoY turned into the month's own; level: as published (PMI);
    # log_yoy: YoY of the level, in log points
    transform: Transform = "yoy"
    release_lag_days: int = Field(default=15, ge=0, le=180)


class NowcastSettings(Strict):
    """[[nowcasts]]: a quarterly growth rate nowcast from monthly indicators."""

    target: Id  # a quarterly growth indicator (its yoy_pct)
    region: Id
    release_lag_days: int = Field(default=17, ge=0, le=180)
    start: str = Field(default="2008-01", pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    # months each indicator is averaged over (3: the quarter's months at its last one)
    window: int = Field(default=3, ge=1, le=12)
    factors: int = Field(default=1, ge=1, le=3)
    factor_order: int = Field(default=2, ge=1, le=4)
    maxiter: int = Field(default=200, ge=1, le=5000)
    monthly: tuple[NowcastInput, ...] = Field(min_length=1)

    @property
    def key(self) -> str:
        return f"{self.target}/{self.region}"


def check_nowcasts(
    nowcasts: Sequence[NowcastSettings], indicators: Mapping[str, Indicator], regions: set[str]
) -> list[Problem]:
    """References of [[nowcasts]]: known indicators and region, a quarterly growth target."""
    problems = []
    for n in nowcasts:
        where = f"nowcasts[target={n.target}, region={n.region}]"
        target = indicators.get(n.target)
        if target is None:
            problems.append(Problem(f"{where}.target", f"unknown indicator {n.target!r}"))
        elif target.kind != "growth" or target.frequency != "quarterly":
            why = "the target must be a quarterly growth indicator"
            problems.append(Problem(f"{where}.target", why))
        if n.region not in regions:
            problems.append(Problem(f"{where}.region", f"unknown region {n.region!r}"))
        for i, m in enumerate(n.monthly):
            if m.indicator not in indicators:
                why = f"unknown indicator {m.indicator!r}"
                problems.append(Problem(f"{where}.monthly[{i}].indicator", why))
            elif indicators[m.indicator].frequency == "dekad":
                why = "an indicator published per 旬 is not a nowcast input (monthly ones are)"
                problems.append(Problem(f"{where}.monthly[{i}].indicator", why))
    keys = Counter(n.key for n in nowcasts)
    problems += [
        Problem(f"nowcasts[{k}]", "defined more than once") for k, c in keys.items() if c > 1
    ]
    return problems
