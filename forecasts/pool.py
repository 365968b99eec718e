"""Worker processes that never outlive the process that started them."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from threadpoolctl import threadpool_limits


def _exit_with_parent(parent: int) -> None:
    """In a worker: exit as soon as the parent is gone (even after a SIGKILL)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _start_worker(parent: int) -> None:
    _exit_with_parent(parent)
    # The workers are the parallelism. BLAS threads on top of them oversubscribe the
    # cores and, on the small matrices of these models, make every fit several times
    # slower (M3: 3.9 against 32 series/s on 2 cores).
    threadpool_limits(1)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A spawn-started pool of single-threaded workers that die with this process."""
    return ProcessPoolExecutor(
        workers,
        mp_context=get_context("spawn"),
        initializer=_start_worker,
        initargs=(os.getpid(),),
    )
