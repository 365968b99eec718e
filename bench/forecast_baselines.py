"""statsforecast's models on a set of series, cached in a file outside the repository.

AutoETS, AutoTheta, AutoCES, AutoARIMA and SeasonalNaive each forecast every series of a
set once; their means, 80 % and 95 % bounds and the seconds they took are kept in
`~/.cache/kpiwatch-bench/` (or `$KPIWATCH_BENCH_CACHE`), keyed by the set's contents,
the horizon, the season and statsforecast's version, so that a rerun of the benchmark
(AutoARIMA takes minutes on two cores) costs nothing. statsforecast appears only here.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

Array = npt.NDArray[np.float64]
MODELS = ("AutoETS", "AutoTheta", "AutoCES", "AutoARIMA", "SeasonalNaive")
BOUNDS = ("lo80", "hi80", "lo95", "hi95")


@dataclass(frozen=True)
class Baseline:
    """One model's forecasts of every series of a set, (series, h) arrays."""

    name: str
    mean: Array
    bounds: dict[str, Array]
    seconds: float


def cache_dir() -> Path:
    """Where the cached forecasts live (never inside the repository)."""
    default = Path.home() / ".cache" / "kpiwatch-bench"
    return Path(os.environ.get("KPIWATCH_BENCH_CACHE", default))


def _key(trains: list[Array], h: int, season: int, model: str) -> str:
    import statsforecast

    digest = hashlib.sha1(f"{statsforecast.__version__}|{h}|{season}|{model}".encode())
    for y in trains:
        digest.update(np.asarray(y, dtype=np.float64).tobytes())
        digest.update(b"|")
    return digest.hexdigest()[:20]


def run(trains: list[Array], h: int, season: int, model: str) -> Baseline:
    """One statsforecast model on the series (no cache), timed."""
    from statsforecast import StatsForecast
    from statsforecast import models as sf_models

    long = pd.concat(
        pd.DataFrame({"unique_id": i, "ds": np.arange(len(y)), "y": y})
        for i, y in enumerate(trains)
    )
    instance = getattr(sf_models, model)(season_length=season)
    column = str(instance)  # AutoCES names its columns CES
    sf = StatsForecast(models=[instance], freq=1, n_jobs=2)
    start = time.perf_counter()
    fc = sf.forecast(df=long, h=h, level=[80, 95]).sort_values(["unique_id", "ds"])
    seconds = time.perf_counter() - start
    shape = (len(trains), h)
    bounds = {
        b: fc[f"{column}-{b[:2]}-{b[2:]}"].to_numpy(np.float64).reshape(shape) for b in BOUNDS
    }
    return Baseline(model, fc[column].to_numpy(np.float64).reshape(shape), bounds, seconds)


def baselines(
    trains: list[Array], h: int, season: int, models: tuple[str, ...] = MODELS, compute: bool = True
) -> list[Baseline]:
    """Each model's forecasts of the series, from the cache when it holds them (else
    computed and cached; left out when `compute` is false)."""
    out = []
    for model in models:
        path = cache_dir() / f"{model}-{_key(trains, h, season, model)}.npz"
        if path.exists():
            with np.load(path) as z:
                bounds = {b: z[b] for b in BOUNDS}
                out.append(Baseline(model, z["mean"], bounds, float(z["seconds"])))
            continue
        if not compute:
            continue
        base = run(trains, h, season, model)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        arrays = {"mean": base.mean, "seconds": np.array(base.seconds), **base.bounds}
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
        out.append(base)
    return out
