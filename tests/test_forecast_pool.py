"""One BLAS thread wherever forecasts are fitted: in the pool's workers and in-process,
including the BLAS that scipy's optimisers load on first use; a pool stopped, or left on
an interrupt, ends its busy workers at once."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
from threadpoolctl import threadpool_info

from forecasts.pool import process_pool, stop_all
from tests.service_helpers import wait_for


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


def _read(path: str) -> str:
    """In a worker: wait until the test writes to the named pipe."""
    with open(path, encoding="utf-8") as pipe:
        return pipe.read()


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _release(pipe: Path) -> None:
    """Let a worker still reading the pipe go (a failed test leaves no process behind)."""
    with contextlib.suppress(OSError):  # ENXIO: nobody reads it any more
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))


def _interrupted(pipe: Path, pids: list[int]) -> None:
    with contextlib.suppress(KeyboardInterrupt), process_pool(1) as pool:
        pids.append(pool.submit(os.getpid).result(timeout=120))
        pool.submit(_read, str(pipe))
        raise KeyboardInterrupt  # Ctrl-C while the forecasts run


def test_a_pool_left_on_an_interrupt_ends_its_busy_worker_at_once(tmp_path: Path) -> None:
    pipe = tmp_path / "hold"
    os.mkfifo(pipe)
    pids: list[int] = []
    leaving = threading.Thread(target=_interrupted, args=(pipe, pids), daemon=True)
    leaving.start()
    try:
        leaving.join(120)  # a bound that only ends a hung test: a waiting pool never returns
        assert not leaving.is_alive(), "the pool waited for its busy worker"
        wait_for(lambda: not _alive(pids[0]), 30, "the worker ended")
    finally:
        _release(pipe)


def test_stop_all_ends_the_busy_pools_of_the_process(tmp_path: Path) -> None:
    pipe = tmp_path / "hold"
    os.mkfifo(pipe)
    pools = [process_pool(1), process_pool(1)]
    try:
        pids = [pool.submit(os.getpid).result(timeout=120) for pool in pools]
        busy = [pool.submit(_read, str(pipe)) for pool in pools]
        wait_for(lambda: all(f.running() for f in busy), 120, "the workers busy")
        stop_all()
        for future in busy:
            with pytest.raises(BrokenProcessPool):
                future.result(timeout=120)
        wait_for(lambda: not any(_alive(pid) for pid in pids), 30, "the workers ended")
        with process_pool(1) as later:  # a pool made afterwards works as ever
            assert later.submit(os.getpid).result(timeout=120) > 0
    finally:
        _release(pipe)
        for pool in pools:
            pool.shutdown(wait=False)


def test_a_worker_leaves_ctrl_c_to_the_process_that_started_it() -> None:
    # a terminal's Ctrl-C reaches every process of its group, workers included
    with process_pool(1) as pool:
        handler = pool.submit(signal.getsignal, signal.SIGINT).result(timeout=120)
    assert handler == signal.SIG_IGN


def test_a_worker_never_sees_a_ctrl_c_even_while_it_starts() -> None:
    # blocked from its start (before the worker ignores it): a Ctrl-C while its interpreter
    # starts would otherwise print a KeyboardInterrupt from the middle of its imports
    with process_pool(1) as pool:
        blocked = pool.submit(signal.pthread_sigmask, signal.SIG_BLOCK, []).result(timeout=120)
    assert signal.SIGINT in blocked
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])  # not here
