"""Where a batch's orders run: a small registry of executors (``local`` process pool, ``dask`` cluster).

An executor takes the order specs and a ``done(result)`` callback and calls it once per spec with the
plain dict :func:`orthogen.lab.order_job.run_order` returns. Ctrl-C (KeyboardInterrupt) stops
submitting, stops the workers and propagates; the batch then writes the summary so far.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from orthogen.errors import OrthogenError
from orthogen.lab.order_job import run_order
from orthogen.lab.summary import status_result

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: What every worker needs, imported once in the fork server before the workers are forked from it:
#: no worker spends its first order importing (about a second each), and the pages are shared.
WORKER_PRELOAD = (
    "orthogen.lab.order_job", "orthogen.device.design", "orthogen.foot.measure_scan", "orthogen.rx.assessed",
    "orthogen.output.preview", "orthogen.output.clinician_report", "orthogen.output.export",
    "matplotlib.textpath",  # the engraved label's glyph outlines
)  # fmt: skip
#: glibc's malloc in a worker: arrays up to this size come from the heap, not a fresh mmap, and up to
#: TRIM of free heap is kept. An order's large temporary arrays otherwise cost ~12 000 page faults and
#: 0.03 s of system time (measured on the benchmark's orders: 500 faults and 0.01 s kept), for ~10 MB
#: more resident memory per worker.
MALLOC_MMAP_THRESHOLD = 32 * 2**20
MALLOC_TRIM_THRESHOLD = 256 * 2**20
CRASH_REASON = "the worker process died while designing this order (killed, or out of memory)"

Done = Callable[[dict], None]


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


@contextmanager
def one_thread_env() -> Iterator[None]:
    """Cap numeric-library threads at one (for the worker processes started inside)."""
    old = {k: os.environ.get(k) for k in THREAD_VARS}
    os.environ.update(dict.fromkeys(THREAD_VARS, "1"))
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _parent_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def keep_heap() -> bool:
    """Have glibc's malloc reuse its heap for large arrays (see MALLOC_MMAP_THRESHOLD); False where
    the C library is not glibc (nothing changes there)."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's mallopt parameters
        return bool(
            libc.mallopt(m_mmap_threshold, MALLOC_MMAP_THRESHOLD)
            and libc.mallopt(m_trim_threshold, MALLOC_TRIM_THRESHOLD)
        )
    except (OSError, AttributeError):
        return False


def one_boolean_thread() -> bool:
    """Have manifold3d run its booleans on this process's own thread (False where it cannot be set).

    manifold3d spreads large booleans over a TBB thread pool sized, once, by the CPUs the process
    may run on. In a batch every core already has its worker: the pool's threads only contend (a
    device's grid solid costs 0.15-0.2 CPU s threaded against 0.12 s alone), and one worker
    already took 1.2 cores, so two gave only 1.6x one. The worker is held to one CPU while a first
    boolean sizes the pool, then let free on all of them again.
    """
    if not hasattr(os, "sched_setaffinity"):
        return False
    import manifold3d

    cpus = os.sched_getaffinity(0)
    try:  # workers started together size their pools on different CPUs, side by side
        os.sched_setaffinity(0, {sorted(cpus)[os.getpid() % len(cpus)]})
        ball = manifold3d.Manifold.sphere(1.0, 200)  # 20 000 triangles: large enough to go parallel
        (ball ^ ball.translate((0.5, 0.0, 0.0))).status()
    except OSError:
        return False
    finally:
        os.sched_setaffinity(0, cpus)
    return True


def _init_worker(parent_pid: int) -> None:
    """Worker initializer: one numeric thread and one boolean thread, the heap kept for large
    arrays, Ctrl-C left to the batch process, and exit as soon as the batch process is gone."""
    import signal

    os.environ.update(dict.fromkeys(THREAD_VARS, "1"))
    keep_heap()
    one_boolean_thread()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ppid = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != ppid or not _parent_alive(parent_pid):
                os._exit(3)

    threading.Thread(target=watch, name="orthogen-parent-watch", daemon=True).start()


def _stop_workers(pool) -> None:
    """Ctrl-C: cancel what has not started and end the running workers now (their orders stay in
    marked temporary folders, which the next run removes)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())  # taken before shutdown clears it
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        try:
            proc.terminate()
        except (OSError, AttributeError):
            pass


def _pool_context():
    """The multiprocessing context of the local pool: a fork server that has imported
    :data:`WORKER_PRELOAD` where the platform has one, else spawn."""
    import multiprocessing as mp

    ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(list(WORKER_PRELOAD))
    return ctx


def start_fork_server() -> bool:
    """Start the local pool's fork server now, in the background (False where there is none).

    Its imports (:data:`WORKER_PRELOAD`, about 0.7 s) then run beside the batch's own start-up (the
    command's imports, reading the order file, checking the output folder) instead of after it; the
    pool made later forks its workers from this server.
    """
    if _pool_context().get_start_method() != "forkserver":
        return False
    from multiprocessing import forkserver

    with one_thread_env():  # the server's numeric libraries start single-threaded, as the workers'
        forkserver.ensure_running()
    return True


def run_local(specs: list[dict], done: Done, *, workers: int = 1, scheduler: str | None = None) -> None:
    """Run the specs in a process pool; a crashed worker's orders are retried alone, then failed."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = _pool_context()
    queue, suspects, crashes = deque(specs), deque(), {}
    inflight: dict = {}
    pool = None

    def submit(spec: dict, back_to: deque) -> bool:
        """Hand ``spec`` to the pool; False (and ``spec`` back in ``back_to``) if the pool broke first."""
        try:
            inflight[pool.submit(run_order, spec)] = spec
        except BrokenProcessPool:
            back_to.appendleft(spec)
            return False
        return True

    try:
        with one_thread_env():
            while queue or suspects or inflight:
                if pool is None:
                    pool = ProcessPoolExecutor(
                        workers, mp_context=ctx, initializer=_init_worker, initargs=(os.getpid(),)
                    )
                ok = True
                while ok and suspects and not inflight:  # a suspect of a crash runs alone
                    ok = submit(suspects.popleft(), suspects)
                while ok and not suspects and queue and len(inflight) < workers:
                    ok = submit(queue.popleft(), queue)
                if ok:
                    wait(inflight, return_when=FIRST_COMPLETED)
                broken = []
                for fut, spec in list(inflight.items()):
                    if not fut.done():
                        continue
                    del inflight[fut]
                    try:
                        done(fut.result())
                    except BrokenProcessPool:
                        broken.append(spec)
                    except Exception as err:  # e.g. a result that cannot be pickled
                        reason = f"internal error: {type(err).__name__}: {err}"
                        done(status_result(spec["order"], "failed", reason))
                if broken or not ok:  # a worker died: every order it may have held is a suspect
                    broken += inflight.values()
                    inflight.clear()
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool = None
                    for spec in broken:
                        key = id(spec)
                        crashes[key] = crashes.get(key, 0) + 1
                        if crashes[key] >= 2:
                            done(status_result(spec["order"], "failed", CRASH_REASON))
                        else:
                            suspects.append(spec)
    except KeyboardInterrupt:
        if pool is not None:
            _stop_workers(pool)
            pool = None
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def run_dask(specs: list[dict], done: Done, *, workers: int = 1, scheduler: str | None = None) -> None:
    """Send the specs to an existing dask.distributed scheduler."""
    if not scheduler:
        raise OrthogenError("--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise OrthogenError("--executor dask needs dask.distributed (pip install 'orthogen[dask]')") from None
    try:
        client = Client(scheduler, timeout="10s", set_as_default=False)
    except Exception as err:
        raise OrthogenError(f"cannot reach the dask scheduler at {scheduler}: {_one_line(err)}") from None
    with client:
        stamp = f"{os.getpid()}-{time.time_ns()}"
        futures = {
            client.submit(run_order, spec, pure=False, key=f"orthogen-order-{i}-{stamp}"): spec
            for i, spec in enumerate(specs)
        }
        try:
            for fut in as_completed(futures, loop=client.loop):
                try:
                    result = fut.result()
                except Exception as err:
                    reason = f"dask worker failed: {type(err).__name__}: {err}"
                    result = status_result(futures[fut]["order"], "failed", reason)
                done(result)
        except KeyboardInterrupt:
            client.cancel(list(futures))
            raise


#: The executors by name: ``--executor NAME`` (one line each to add another).
EXECUTORS: dict[str, Callable[..., None]] = {"local": run_local, "dask": run_dask}


def get_executor(name: str) -> Callable[..., None]:
    """The executor called ``name``; OrthogenError for an unknown one."""
    try:
        return EXECUTORS[name]
    except KeyError:
        raise OrthogenError(f"unknown executor {name!r} (allowed: {', '.join(EXECUTORS)})") from None
