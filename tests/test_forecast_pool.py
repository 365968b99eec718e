"""One BLAS thread wherever forecasts are fitted: in the pool's workers and in-process,
including the BLAS that scipy's optimisers load on first use."""

from __future__ import annotations

import json
import subprocess
import sys

from threadpoolctl import threadpool_info

from forecasts.pool import process_pool


def _threads_after_fitting() -> dict[str, int]:
    """In a worker: fit a smoothing model (loading scipy's optimisers), then report the
    threads of every BLAS library loaded."""
    import numpy as np

    from forecasts.models import DampedETS

    DampedETS(4).fit(np.arange(1.0, 41.0) + np.sin(np.arange(40.0)))
    return {i["filepath"]: i["num_threads"] for i in threadpool_info()}


def test_a_pool_worker_fits_on_one_blas_thread_in_every_library() -> None:
    with process_pool(1) as pool:
        threads = pool.submit(_threads_after_fitting).result(timeout=120)
    assert threads
    assert all(n == 1 for n in threads.values()), threads


def test_in_process_fits_run_on_one_blas_thread_in_every_library() -> None:
    # A fresh interpreter, so that scipy's optimisers are not loaded yet when asked.
    code = (
        "import json, numpy\n"
        "from threadpoolctl import threadpool_info\n"
        "from forecasts.pool import one_blas_thread\n"
        "with one_blas_thread():\n"
        "    from forecasts.models import DampedETS\n"
        "    DampedETS(4).fit(numpy.arange(1.0, 41.0))\n"
        "    print(json.dumps({i['filepath']: i['num_threads'] for i in threadpool_info()}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    threads = json.loads(out.stdout)
    assert threads
    assert all(n == 1 for n in threads.values()), threads
