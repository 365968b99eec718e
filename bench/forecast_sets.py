"""The benchmark's sets of series: long-format CSVs with a train and a test split.

A set is `series_id,t,value,split` (other columns ignored), `split` being `train` or
`test`; its horizon is the test length and its season 4 when the file name says
quarterly (12 otherwise, or as given after a colon: `path.csv:4`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.forecast_baselines import Array

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_SETS = (
    str(DATA / "m3" / "M3_monthly_long.csv"),
    str(DATA / "m1" / "M1_monthly_long.csv"),
    str(DATA / "m3" / "M3_quarterly_long.csv"),
)


@dataclass(frozen=True)
class SeriesSet:
    """Series of one set with a common horizon."""

    name: str
    season: int
    h: int
    ids: list[str]
    trains: list[Array]
    tests: Array  # (series, h)

    @property
    def bands(self) -> list[tuple[str, slice]]:
        """Horizon bands: 1-6, 7-12, 13+ for monthly sets, 1-4, 5-8, ... for quarterly."""
        width = 6 if self.season == 12 else self.season
        edges = [0, width, 2 * width] if self.season == 12 else list(range(0, self.h, width))
        edges = [e for e in edges if e < self.h] + [self.h]
        out = []
        for a, b in itertools.pairwise(edges):
            label = f"{a + 1}+" if self.season == 12 and a == 2 * width else f"{a + 1}-{b}"
            out.append((label, slice(a, b)))
        return out


def load(spec: str, limit: int | None = None) -> SeriesSet:
    """A set from `path` or `path:season`, its first `limit` series when given."""
    path, _, season_text = spec.partition(":")
    season = int(season_text) if season_text else 4 if "quarter" in Path(path).name else 12
    frame = pd.read_csv(path, usecols=["series_id", "t", "value", "split"])
    frame = frame.sort_values(["series_id", "t"])
    ids, trains, tests = [], [], []
    for sid, g in frame.groupby("series_id", sort=True):
        ids.append(str(sid))
        trains.append(g.value[g.split == "train"].to_numpy(np.float64))
        tests.append(g.value[g.split == "test"].to_numpy(np.float64))
        if limit and len(ids) == limit:
            break
    h = min(len(t) for t in tests)
    name = Path(path).stem.removesuffix("_long")
    return SeriesSet(name, season, h, ids, trains, np.array([t[:h] for t in tests]))
