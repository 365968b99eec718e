"""Config models owned by the forecasts stage."""

from __future__ import annotations

from pydantic import Field, model_validator

from ingest.schema import Strict


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
