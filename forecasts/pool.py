"""Worker processes that never outlive the process that started them."""

from __future__ import annotations

import os
import signal
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from types import TracebackType
from typing import ParamSpec, TypeVar

from threadpoolctl import threadpool_limits


def _exit_with_parent(parent: int) -> None:
    """In a worker: exit as soon as the parent is gone (even after a SIGKILL)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


P = ParamSpec("P")
T = TypeVar("T")

# Read by OpenBLAS, OpenMP and MKL when their library loads.
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def one_blas_thread() -> threadpool_limits:
    """One BLAS thread in every library the models use, for a `with` block in this process.

    scipy's optimisers (L-BFGS-B, behind every smoothing model's fit) bring their own
    OpenBLAS, loaded on first import: a limit set before that import misses it, and its
    threads cost several times the CPU on these tiny problems."""
    import scipy.optimize  # noqa: F401  (loads that library, so that the limit reaches it)

    return threadpool_limits(1)


def _start_worker(parent: int) -> None:
    _exit_with_parent(parent)
    # A terminal's Ctrl-C reaches the whole process group: the process that started the
    # pool acts on it (it stops the pool), not each worker with a KeyboardInterrupt of its
    # own, printed with its traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The workers are the parallelism. BLAS threads on top of them oversubscribe the
    # cores and, on the small matrices of these models, make every fit several times
    # slower (M3: 3.9 against 32 series/s on 2 cores; M3 quarterly 0.13 against 0.04 CPU
    # s a series with scipy's own OpenBLAS). The variables reach the libraries loaded
    # later (at no import cost where a worker never fits), the limit those loaded now.
    for var in BLAS_THREAD_VARS:
        os.environ[var] = "1"
    threadpool_limits(1)


class WorkerPool(ProcessPoolExecutor):
    """A process pool that can be stopped at once: its pending work dropped, its workers
    ended mid-task. Leaving its `with` block on an error or an interrupt stops it so:
    nobody waits for results no one will read (a stopping service, Ctrl-C)."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        # The first submit starts the workers, and a process inherits the signals its
        # starter blocks: with SIGINT blocked, a Ctrl-C cannot interrupt a worker while it
        # starts up either (before _start_worker ignores it).
        unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            return super().submit(fn, *args, **kwargs)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)

    def stop(self) -> None:
        """Drop the pending work and end the workers now."""
        workers = self._processes  # shutdown() forgets them; a submit under way adds to it
        self.shutdown(wait=False, cancel_futures=True)
        for worker in list((workers or {}).values()):
            # SIGKILL: a worker holds nothing to clean up, and must not be able to refuse
            # (SIGTERM waits while a worker is stopped); the pool's thread then sees it
            # gone and cleans up
            worker.kill()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        if exc_type is None:
            return super().__exit__(exc_type, exc, tb)
        self.stop()
        return None


# The pools alive in this process, for a stopping service to end whatever they are doing
# wherever they were started (the refresh, the bulletin's drawing, a page asked for).
_live: weakref.WeakSet[WorkerPool] = weakref.WeakSet()
_live_lock = threading.Lock()


def process_pool(workers: int) -> WorkerPool:
    """A spawn-started pool of single-threaded workers that die with this process."""
    pool = WorkerPool(
        workers,
        mp_context=get_context("spawn"),
        initializer=_start_worker,
        initargs=(os.getpid(),),
    )
    with _live_lock:
        _live.add(pool)
    return pool


def stop_all() -> None:
    """Stop every pool of this process now (see WorkerPool.stop)."""
    with _live_lock:
        pools = list(_live)
    for pool in pools:
        pool.stop()
