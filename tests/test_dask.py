"""The same forecasts on a real Dask cluster (a scheduler and two workers on 127.0.0.1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from forecasts.jobs import Job
from forecasts.schema import ForecastSettings
from forecasts.stage import fan_out
from tests.service_helpers import free_port, wait_for
from tests.test_forecast_accuracy import m3_series

DASK = str(Path(sys.executable).parent / "dask")


def jobs() -> list[Job]:
    out = []
    for n, (train, _) in enumerate(m3_series(12)):
        out.append(
            Job(
                indicator=f"m3_{n}",
                region="r",
                year=2026,
                month=6,
                kind="flow",
                direction="higher",
                history=tuple(train),
                season=12,
                step=1,
                to_date=float(train[-6:].sum()),
                quarter_done=0.0,
                quarter_month=9,
                year_target=float(train[-12:].sum()),
                quarter_target=float(train[-3:].sum()),
                n_paths=200,
                at_risk_below=0.5,
                behind_below=0.2,
            )
        )
    return out


def test_dask_cluster_gives_the_local_results(tmp_path: Path) -> None:
    work = jobs()
    local = fan_out(work, ForecastSettings(workers=2))
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    log = (tmp_path / "dask.log").open("w")
    procs = [
        subprocess.Popen(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    ]
    try:
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        DASK,
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--no-dashboard",
                        "--host",
                        "127.0.0.1",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        from dask.distributed import Client

        def two_workers() -> bool:
            with Client(address, timeout=5) as c:
                return len(c.scheduler_info()["workers"]) == 2

        wait_for(two_workers, 90, "two dask workers")
        remote = fan_out(work, ForecastSettings(scheduler=address))
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        log.close()
    assert remote == local
    assert len(local) == 12 and all(r.point is not None for batch in local for r in batch)
